"""The local AWS behind ``awsfs --demo`` and the tests: a moto server on 127.0.0.1, seeded.

moto is an optional extra (``pip install 'awsfs[demo]'``); nothing else in awsfs imports it.
"""
from __future__ import annotations

import json
import os
import socket
import time
from typing import Any

import boto3

__all__ = ["DEMO_REGIONS", "LocalAws", "seed"]

DEMO_REGIONS = ["us-east-1", "eu-west-1"]
DEMO_ENV = {"AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo", "AWS_DEFAULT_REGION": "us-east-1"}


LOGS = {  # group -> stream -> the lines it repeats
    "/aws/lambda/api": {"2026/12/01/[$LATEST]demo": ["START RequestId: 1", "GET /users 200", "ERROR db timeout",
                                                    "END RequestId: 1"],
                        "2026/12/01/[$LATEST]next": ["START RequestId: 2", "GET /orders 200", "END RequestId: 2"]},
    "app/web": {"web-1": ["listening on :8080", "GET / 200", "GET /missing 404"],
                "web-2": ["listening on :8080", "GET /health 200"]},
    "app/worker": {"worker-1": ["job 1 done"]},
}
LIVE = ("app/worker", "worker-1")  # written every LIVE_SECONDS while the demo runs (tail -f shows it)
LIVE_SECONDS = 3.0


def write_live(url: str, region: str, stop: Any) -> None:
    """Until ``stop`` is set: one event a few seconds into the LIVE stream, as a running job would."""
    logs = _client("logs", region, url)
    group, stream = LIVE
    n = 1
    while not stop.wait(LIVE_SECONDS):
        n += 1
        try:
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
                {"timestamp": int(time.time() * 1000), "message": f"job {n} done"}])
        except Exception:  # noqa: BLE001 - the local AWS going away as the demo ends
            return


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalAws:
    """A moto server in this process (threads), on a free port of 127.0.0.1."""

    def __init__(self, port: int = 0) -> None:
        try:
            from moto.server import ThreadedMotoServer
        except ImportError as e:  # pragma: no cover - depends on the install
            raise RuntimeError("the local AWS needs moto: pip install 'awsfs[demo]'") from e
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        import logging
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    def start(self) -> "LocalAws":
        for k, v in DEMO_ENV.items():
            os.environ.setdefault(k, v)
        # AWS's own managed policies, as an account has them (/iam/aws-policies); read by moto when its
        # IAM is first used (~0.4 s, 1,582 policies in moto 5.2)
        os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()


def _client(service: str, region: str, url: str) -> Any:
    return boto3.client(service, region_name=region, endpoint_url=url, aws_access_key_id="demo",
                        aws_secret_access_key="demo")


def seed(url: str, regions: list[str] = DEMO_REGIONS) -> dict[str, Any]:
    """Create sample resources; returns what was made (ids by region) for tests and the tour."""
    made: dict[str, Any] = {}
    for n, region in enumerate(regions):
        ec2 = _client("ec2", region, url)
        ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        web = ec2.create_security_group(GroupName="web", Description="HTTP from anywhere")["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        ids = []
        for name, itype, env in [("web-1", "t3.micro", "prod"), ("web-2", "t3.micro", "prod"),
                                 ("batch", "m5.large", "staging")][: 3 - n]:
            r = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType=itype,
                                  SecurityGroupIds=[web], TagSpecifications=[{
                                      "ResourceType": "instance",
                                      "Tags": [{"Key": "Name", "Value": name}, {"Key": "env", "Value": env},
                                               {"Key": "team", "Value": "platform"}]}])
            ids.append(r["Instances"][0]["InstanceId"])
        if n == 0 and len(ids) > 2:
            ec2.stop_instances(InstanceIds=[ids[2]])
        elb = _client("elb", region, url)
        elb.create_load_balancer(LoadBalancerName="web-lb", AvailabilityZones=[f"{region}a"],
                                 Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 80}])
        elb.register_instances_with_load_balancer(LoadBalancerName="web-lb",
                                                  Instances=[{"InstanceId": i} for i in ids[:2]])
        ddb = _client("dynamodb", region, url)
        ddb.create_table(TableName="users", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "user_id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "user_id", "AttributeType": "S"}])
        ddb.create_table(TableName="orders", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "customer", "KeyType": "HASH"},
                                    {"AttributeName": "order_id", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "customer", "AttributeType": "S"},
                                               {"AttributeName": "order_id", "AttributeType": "N"}])
        if n == 0:
            users = [
                {"user_id": {"S": "alice"}, "name": {"S": "Alice Liddell"}, "email": {"S": "alice@example.com"},
                 "plan": {"S": "pro"}, "balance": {"N": "12345678901234567890.123456"},
                 "roles": {"SS": ["admin", "billing"]}, "active": {"BOOL": True},
                 "address": {"M": {"city": {"S": "Oxford"}, "zip": {"S": "OX1"}}}},
                {"user_id": {"S": "bob"}, "name": {"S": "Bob Builder"}, "email": {"S": "bob@example.com"},
                 "plan": {"S": "free"}, "logins": {"N": "42"}, "scores": {"NS": ["1.5", "7", "10"]},
                 "avatar": {"B": b"\x89PNG\r\n"}, "manager": {"NULL": True}},
                {"user_id": {"S": "carol/ops"}, "name": {"S": "Carol (ops)"}, "plan": {"S": "pro"},
                 "tags": {"L": [{"S": "oncall"}, {"N": "3"}]}},
            ]
            for item in users:
                ddb.put_item(TableName="users", Item=item)
            for cust, oid, total, status in [("alice", "1001", "19.99", "shipped"), ("alice", "1002", "5", "open"),
                                             ("bob", "2001", "120.50", "open")]:
                ddb.put_item(TableName="orders", Item={"customer": {"S": cust}, "order_id": {"N": oid},
                                                       "total": {"N": total}, "status": {"S": status}})
            ssm = _client("ssm", region, url)
            for name, value, typ in [("/app/db/host", "db.internal", "String"), ("/app/db/port", "5432", "String"),
                                     ("/app/db/password", "s3cr3t-demo", "SecureString"),
                                     ("/app/feature-flags", "search,new-ui,dark-mode", "StringList"),
                                     ("/app/motd", "Welcome!\nMaintenance on Sunday.", "String"),
                                     ("region-default", "eu-west-1", "String")]:
                ssm.put_parameter(Name=name, Value=value, Type=typ, Description=f"demo {typ}")
            sm = _client("secretsmanager", region, url)
            sm.create_secret(Name="prod/db/credentials",
                             SecretString='{"username": "app", "password": "demo-password"}')
            sm.create_secret(Name="prod/api-token", SecretString="tok-demo-123")
            s3 = _client("s3", region, url)
            s3.create_bucket(Bucket="demo-site")
            for key, body, kind in [("index.html", b"<h1>Hello from awsfs</h1>\n", "text/html"),
                                    ("css/site.css", b"h1 { color: teal; }\n", "text/css"),
                                    ("logs/2026/12/01.log", b"GET / 200\nGET /css/site.css 200\n", "text/plain"),
                                    ("logs/2026/12/02.log", b"GET / 200\nGET /missing 404\n", "text/plain"),
                                    ("data/", b"", "application/x-directory")]:
                s3.put_object(Bucket="demo-site", Key=key, Body=body, ContentType=kind)
            s3.put_object(Bucket="demo-site", Key="data/big.bin", Body=bytes(range(256)) * 40_000)  # 10 MB
            s3.create_bucket(Bucket="demo-config")  # versioned: .versions/<key>/ shows each save
            s3.put_bucket_versioning(Bucket="demo-config", VersioningConfiguration={"Status": "Enabled"})
            for n, mode in enumerate(("slow", "fast", "faster"), 1):
                s3.put_object(Bucket="demo-config", Key="app/settings.ini",
                              Body=f"[app]\nmode = {mode}\nrelease = {n}\n".encode(), ContentType="text/plain")
            iam = _client("iam", region, url)
            read_policy = {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
                 "Resource": ["arn:aws:s3:::demo-site", "arn:aws:s3:::demo-site/*"]}]}
            arn = iam.create_policy(PolicyName="app-read", PolicyDocument=json.dumps(read_policy))["Policy"]["Arn"]
            iam.create_group(GroupName="developers")
            iam.create_user(UserName="alice")
            iam.add_user_to_group(GroupName="developers", UserName="alice")
            iam.attach_group_policy(GroupName="developers", PolicyArn=arn)
            iam.create_role(RoleName="app-runner", AssumeRolePolicyDocument=json.dumps({
                "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                        "Principal": {"Service": "ec2.amazonaws.com"}}]}))
            iam.put_role_policy(RoleName="app-runner", PolicyName="logs-write", PolicyDocument=json.dumps({
                "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:PutLogEvents",
                                                        "Resource": "*"}]}))
            try:  # one of AWS's own (iam/aws-policies/), when the local AWS has them (LocalAws loads them)
                iam.attach_role_policy(RoleName="app-runner",
                                       PolicyArn="arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy")
            except iam.exceptions.NoSuchEntityException:
                pass
            iam.create_access_key(UserName="alice")  # (its secret is dropped here: awsfs shows none)
            logs = _client("logs", region, url)
            now = int(time.time() * 1000)
            for group, streams in LOGS.items():
                logs.create_log_group(logGroupName=group)
                for n, (stream, lines) in enumerate(streams.items()):
                    logs.create_log_stream(logGroupName=group, logStreamName=stream)
                    # every 20 minutes over the last three hours (`@since/1d/` shows them all)
                    events = [{"timestamp": now - 3 * 3_600_000 + k * 1_200_000 + n * 1000 + i * 10,
                               "message": m} for k in range(9) for i, m in enumerate(lines)]
                    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
        made[region] = {"instances": ids, "security_group": web, "image": ami}
    return made
