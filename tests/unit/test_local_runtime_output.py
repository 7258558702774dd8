"""`local_api_url`: where a client calls the payments API on the local emulator; empty on a real account."""

import re


def test_local_api_url_is_the_emulator_path_of_the_api_listener(dev, https):
    for profile, port in ((dev, 80), (https, 443)):
        output = profile.outputs["local_api_url"]
        assert re.fullmatch(
            rf"http://127\.0\.0\.1:4566/_local_aws/alb/\$\{{aws_lb\.[\w.]+\.name\}}/{port}", output["value"]
        ), output["value"]
        assert output["description"]


def test_local_api_url_is_empty_on_aws(synth_all):
    assert synth_all["aws_s3_backend"].outputs["local_api_url"]["value"] == ""
