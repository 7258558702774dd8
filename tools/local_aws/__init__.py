"""Local AWS emulator: moto 5.2.5 on 127.0.0.1, version-checked, patched, and running what it describes.

Arranged like moto itself, by service:

    cli.py           `python -m tools.local_aws start|stop|status|serve|prepare` (the launcher)
    process.py       detached start, pidfile, stop, status
    server.py        `serve`: the patched moto WSGI app, control endpoints, idle self-stop
    moto_guard.py    moto must be exactly 5.2.5 and every internal a patch relies on in place
    patches.py       the patched services, in the order their patches apply
    loopback.py      127.0.0.1 only: free ports, and a guard that refuses any other connect
    runtime.py       what runs while `serve` runs: Lambda workers, schedules, PostgreSQL,
                     load balancers, replication
    control.py       /_local_aws/ control endpoints (client.py calls them)
    postgres.py      the PostgreSQL 15 server behind the Data API and DMS
    awslambda/       functions run in warm python3.12 workers
    rds/, rdsdata/   Aurora clusters' databases; the Data API engine
    elbv2/           listeners served on 127.0.0.1, rules, targets, health checks
    dms/             logical replication between local databases
    ec2.py, events.py, route53.py, s3.py, sns.py
                     the other patched services, one module each

Each patch declares the moto internals it relies on next to its code. docs/local-runtime.md
says how each emulation differs from AWS.
"""
