"""Local AWS emulator: moto 5.2.5 on 127.0.0.1, version-checked and patched where it falls short.

Arranged like moto itself, by service:

    cli.py          `python -m tools.local_aws start|stop|status|serve`
    process.py      detached start, pidfile, stop, status
    server.py       `serve`: the patched moto WSGI app, idle self-stop
    moto_guard.py   moto must be exactly 5.2.5 and every internal a patch relies on in place
    loopback.py     127.0.0.1 only: free ports, and a guard that refuses any other connect
    patches.py      the patched services, in the order their patches apply
    <service>.py    one module per patched moto service (dms, rds, route53, ec2, elbv2,
                    awslambda, s3); each patch declares the moto internals it relies on
"""
