"""Drives the official Alibaba Cloud Python SDKs against a running ccc-sync simulator.

Run by tests/it/sdk_conformance.rs, which starts the simulator and passes it in the environment:
SIM_HOST (host:port), SIM_KEY_ID, SIM_KEY_SECRET, SIM_INSTANCE_ID, SIM_START_MS, SIM_STOP_MS.
Each check prints one line; the exit status is 0 only if every check passed.
"""

import json
import os
import sys

from alibabacloud_ccc20170705 import models as ccc_models
from alibabacloud_ccc20170705.client import Client as TeaClient
from alibabacloud_tea_openapi import models as open_api_models
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest
from Tea.exceptions import TeaException

HOST = os.environ["SIM_HOST"]
KEY_ID = os.environ["SIM_KEY_ID"]
SECRET = os.environ["SIM_KEY_SECRET"]
INSTANCE = os.environ["SIM_INSTANCE_ID"]
START_MS = int(os.environ["SIM_START_MS"])
STOP_MS = int(os.environ["SIM_STOP_MS"])
PAGE_SIZE = 100

failures = []


def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + str(detail)), flush=True)
    if not ok:
        failures.append(name)


def tea_client(secret):
    config = open_api_models.Config(
        access_key_id=KEY_ID,
        access_key_secret=secret,
        endpoint=HOST,
        protocol="http",
        region_id="cn-shanghai",
    )
    return TeaClient(config)


def tea_request(page_number):
    return ccc_models.ListRecentCallRecordsRequest(
        instance_id=INSTANCE,
        page_number=page_number,
        page_size=PAGE_SIZE,
        start_time=START_MS,
        stop_time=STOP_MS,
    )


def tea_sdk():
    """Tea SDK: POST, common params in the query, action params in a form body; its models parse the answer."""
    client = tea_client(SECRET)
    records = []
    total = None
    for page_number in range(1, 1000):
        body = client.list_recent_call_records(tea_request(page_number)).body
        check_once("tea: the body says Success and Code OK", body.success is True and body.code == "OK",
                   (body.success, body.code))
        cdr = body.call_detail_records
        total = cdr.total_count
        page = cdr.list.call_detail_record if cdr.list else []
        records.extend(page)
        if len(page) < PAGE_SIZE:
            break
    check("tea: the signed POST is accepted and pages through the window", len(records) > 0 and len(records) == total,
          (len(records), total))
    legs = [leg for r in records if r.agents for leg in r.agents.call_detail_agent]
    recordings = [x for r in records if r.recordings for x in r.recordings.recording]
    check("tea: the models parse agent legs", len(legs) > 0, len(legs))
    check("tea: the models parse recordings", len(recordings) > 0, len(recordings))
    first = records[0]
    check("tea: record fields have the documented types",
          isinstance(first.contact_id, str) and isinstance(first.start_time, int) and isinstance(first.duration, int),
          first.to_map())
    rated = [r for r in records if r.satisfaction is not None]
    check("tea: the record's Satisfaction is an int where present",
          len(rated) > 0 and all(isinstance(r.satisfaction, int) for r in rated), len(rated))
    check("tea: the leg's Satisfaction is text", all(isinstance(l.satisfaction, str) for l in legs))
    check("tea: recordings point into OSS", all(x.file_path.startswith("oss://") for x in recordings))
    starts = [r.start_time for r in records]
    check("tea: records come newest first", starts == sorted(starts, reverse=True))
    try:
        tea_client("not-the-secret").list_recent_call_records(tea_request(1))
        check("tea: a wrong secret is refused", False, "it was accepted")
    except TeaException as e:
        check("tea: a wrong secret is refused with SignatureDoesNotMatch", e.code == "SignatureDoesNotMatch",
              (e.code, e.message))
        check("tea: the message carries the server's string to sign",
              "server string to sign is:POST&%2F&" in (e.message or ""), e.message)


_seen = set()


def check_once(name, ok, detail=""):
    """A check made on every page, reported once (or at its first failure)."""
    if name in _seen and ok:
        return
    _seen.add(name)
    check(name, ok, detail)


def core_request(method):
    request = CommonRequest(domain=HOST, version="2017-07-05", action_name="ListRecentCallRecords")
    request.set_protocol_type("http")
    request.set_method(method)
    request.set_accept_format("JSON")
    for name, value in [("InstanceId", INSTANCE), ("PageNumber", 1), ("PageSize", PAGE_SIZE),
                        ("StartTime", START_MS), ("StopTime", STOP_MS)]:
        request.add_query_param(name, value)
    return request


def core_sdk():
    """Classic core SDK: CommonRequest with every param in the query (plus RegionId and SignatureType=)."""
    for method in ("GET", "POST"):
        client = AcsClient(KEY_ID, SECRET, "cn-shanghai")
        raw = client.do_action_with_exception(core_request(method))
        doc = json.loads(raw)
        page = doc.get("CallDetailRecords", {}).get("List", {}).get("CallDetailRecord", [])
        check(f"core {method}: the signed request is accepted with records", doc.get("Success") is True and len(page) > 0,
              (doc.get("Code"), len(page)))
        wrong = AcsClient(KEY_ID, "not-the-secret", "cn-shanghai")
        try:
            wrong.do_action_with_exception(core_request(method))
            check(f"core {method}: a wrong secret is refused", False, "it was accepted")
        except ServerException as e:
            check(f"core {method}: a wrong secret is refused with SignatureDoesNotMatch",
                  e.get_error_code() == "SignatureDoesNotMatch" and e.get_http_status() == 400,
                  (e.get_error_code(), e.get_http_status()))


def main():
    for part in (tea_sdk, core_sdk):
        try:
            part()
        except Exception as e:  # noqa: BLE001 - any crash is a failed check, reported with its cause
            check(f"{part.__name__} ran without an exception", False, f"{type(e).__name__}: {e}")
    print(f"{len(failures)} check(s) failed" if failures else "all checks passed", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
