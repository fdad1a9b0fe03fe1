# -*- coding: utf-8 -*-
# Copyright: (c) squirrel.ssm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""GCR's service-account key file, checked with google-auth (imported only here, on demand).  The login itself
is the docker flow's ``_json_key``."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

from ansible_collections.squirrel.ssm.plugins.module_utils.registry_login_common import from_none, import_library

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"


def load_gcr_key_file(path):
    """Read a service-account JSON key file into SSM's gcr fields.

    The key is checked with google-auth (the private key must load); any
    problem is a ValueError whose message holds no key material.
    """
    service_account = import_library("google.oauth2.service_account", "google-auth")
    try:
        with open(path, "r", encoding="utf-8") as handle:
            info = json.load(handle)
    except OSError as exc:
        raise from_none(ValueError("cannot read the GCR key file %s: %s" % (path, exc.strerror or exc.__class__.__name__)))
    except ValueError:
        raise from_none(ValueError("the GCR key file %s is not JSON (expected a service-account key)" % (path,)))
    if not isinstance(info, dict) or info.get("type", "service_account") != "service_account":
        raise ValueError("the GCR key file %s is not a service-account key (type service_account)" % (path,))
    missing = [f for f in ("client_email", "private_key") if not isinstance(info.get(f), str) or not info.get(f)]
    if missing:
        raise ValueError("the GCR key file %s lacks %s" % (path, ', '.join(missing)))
    # google-auth wants a token_uri; SSM does not store it, so any default will do.
    checked = dict(info)
    checked.setdefault("token_uri", GOOGLE_TOKEN_URI)
    try:
        service_account.Credentials.from_service_account_info(checked)
    except (ValueError, TypeError, IndexError) as exc:
        raise from_none(ValueError("the private_key in the GCR key file %s cannot be loaded (%s): is it a complete "
                                   "PEM private key?" % (path, exc.__class__.__name__)))
    return {"clientemail": info["client_email"], "privatekey": info["private_key"]}
