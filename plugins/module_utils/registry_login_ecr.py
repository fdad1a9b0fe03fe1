# -*- coding: utf-8 -*-
# Copyright: (c) squirrel.ssm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ECR through boto3: the check of access keys (get_authorization_token) and the keys read from AWS's own
sources.  boto3 is imported only here, on demand."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.squirrel.ssm.plugins.module_utils.registry_login_common import (
    ACCEPTED, REJECTED, CheckResult, Unreachable, address_of, from_none, import_library, network_reason, require)


def check_ecr(creds, timeout, verify, endpoint_url):
    key, secret, region = require(creds, "ecr", "accesskeyid", "secretaccesskey", "region")
    boto3 = import_library("boto3", "boto3")
    bexc = import_library("botocore.exceptions", "botocore")
    bconfig = import_library("botocore.config", "botocore")
    # Explicit keys only: env/profile credentials must not stand in for them.
    session = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name=region)
    config = bconfig.Config(connect_timeout=timeout, read_timeout=timeout, retries={"total_max_attempts": 1})
    client = session.client("ecr", endpoint_url=endpoint_url, verify=None if verify is True else verify,
                            config=config)
    where = "AWS ECR (%s, %s)" % (region, address_of(client.meta.endpoint_url))
    try:
        client.get_authorization_token()
    except bexc.ClientError as exc:
        return CheckResult(REJECTED, "%s rejected the access keys of ecr (%s)" % (where, _aws_error_code(exc)))
    except (bexc.ConnectionError, bexc.HTTPClientError) as exc:
        raise from_none(Unreachable("AWS ECR endpoint", address_of(client.meta.endpoint_url),
                                    network_reason(exc, timeout)))
    return CheckResult(ACCEPTED, "%s accepted the access keys of ecr (issued an authorization token)" % (where,))


def _aws_error_code(exc):
    """The AWS error code of a ClientError.  ECR answers JSON, but an error
    given in the query protocol's XML (an STS-style auth failure, as moto
    and some proxies send) reaches botocore unparsed: read its <Code>."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or "")
    if not code or code.isdigit():
        found = re.search(r"<Code>([A-Za-z0-9_.]+)</Code>", str(error.get("Message") or ""))
        code = found.group(1) if found else "HTTP %s" % (code or 'error',)
    return code


def ecr_keys_from_aws(profile=None):
    """Long-term AWS access keys from a profile or the environment, via boto3.

    Returns {"accesskeyid", "secretaccesskey"} and "region" when the session
    has one.  Temporary credentials are refused: SSM can only store keys.
    """
    boto3 = import_library("boto3", "boto3")
    bexc = import_library("botocore.exceptions", "botocore")
    source = "AWS profile %s" % (profile,) if profile else "the AWS environment (variables, default profile)"
    try:
        session = boto3.session.Session(profile_name=profile)
        found = session.get_credentials()
    except bexc.BotoCoreError as exc:
        raise from_none(ValueError("cannot read AWS credentials from %s: %s" % (source, exc.__class__.__name__)))
    if found is None:
        raise ValueError("no AWS credentials found in %s" % (source,))
    frozen = found.get_frozen_credentials()
    if frozen.token:
        raise ValueError("%s gives temporary credentials (with a session token): SSM can only store long-term "
                         "access keys (an access key id and its secret access key)" % (source,))
    if not frozen.access_key or not frozen.secret_key:
        raise ValueError("%s gives incomplete AWS credentials" % (source,))
    keys = {"accesskeyid": frozen.access_key, "secretaccesskey": frozen.secret_key}
    if session.region_name:
        keys["region"] = session.region_name
    return keys
