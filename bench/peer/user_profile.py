"""The peer for the cold-start benchmark: the studio user-profile custom resource written the
way users do today in Python, with crhelper and boto3, run by awslambdaric
(`python -m awslambdaric user_profile.handler`)."""

import http.client
import logging
import time

import boto3
import crhelper.utils
from crhelper import CfnResource

logger = logging.getLogger(__name__)

# crhelper only speaks HTTPS; the local cloud's ResponseURL is plain HTTP on 127.0.0.1.
crhelper.utils.HTTPSConnection = lambda host, context=None: http.client.HTTPConnection(host)

helper = CfnResource(json_logging=False, log_level="INFO", boto_level="CRITICAL")
sagemaker = boto3.client("sagemaker")


def handler(event, context):
    helper(event, context)


def wait_for(domain_id, name, done):
    """Polls DescribeUserProfile until done(status) (None once the profile is gone)."""
    while True:
        try:
            status = sagemaker.describe_user_profile(DomainId=domain_id, UserProfileName=name)["Status"]
        except sagemaker.exceptions.ResourceNotFound:
            status = None
        if done(status):
            return
        if status in ("Failed", "Update_Failed", "Delete_Failed"):
            raise RuntimeError(f"user profile {name} is {status}")
        time.sleep(0.5)


@helper.create
def create(event, _context):
    props = event["ResourceProperties"]
    domain_id, name = props["DomainId"], props["UserProfileName"]
    request = {"DomainId": domain_id, "UserProfileName": name}
    for key in ("UserSettings", "Tags", "SingleSignOnUserIdentifier", "SingleSignOnUserValue"):
        if key in props:
            request[key] = props[key]
    arn = sagemaker.create_user_profile(**request)["UserProfileArn"]
    wait_for(domain_id, name, lambda status: status == "InService")
    helper.Data.update({"UserProfileArn": arn, "UserProfileName": name, "DomainId": domain_id})
    return arn


@helper.update
def update(event, _context):
    props = event["ResourceProperties"]
    domain_id, name = props["DomainId"], props["UserProfileName"]
    sagemaker.update_user_profile(DomainId=domain_id, UserProfileName=name, UserSettings=props.get("UserSettings", {}))
    wait_for(domain_id, name, lambda status: status == "InService")
    return event["PhysicalResourceId"]


@helper.delete
def delete(event, _context):
    props = event["ResourceProperties"]
    domain_id, name = props["DomainId"], props["UserProfileName"]
    try:
        sagemaker.delete_user_profile(DomainId=domain_id, UserProfileName=name)
    except sagemaker.exceptions.ResourceNotFound:
        return
    wait_for(domain_id, name, lambda status: status is None)
