"""Drives the official Alibaba Cloud Python SDKs against a running ccc-sync simulator.

Run by tests/it/sdk_conformance.rs, which starts the simulator and passes it in the environment:
SIM_HOST (host:port), SIM_KEY_ID, SIM_KEY_SECRET (a key bound to no agent), SIM_AGENT_KEY_ID,
SIM_AGENT_KEY_SECRET (a key bound to an agent), SIM_INSTANCE_ID, SIM_START_MS, SIM_STOP_MS (the window),
SIM_TRUTH (a JSON file: {"instance": [...], "ccc2": [...]}, the simulator's truth views of the calls that
started in the window, newest first) and SIM_CLASSIC_CCC_2017 (the directory aliyun-python-sdk-ccc 1.x was
installed into: no release carries both API versions, see import_classic_2017).
Each check prints one line; the exit status is 0 only if every check passed. Besides agreeing with the
truth on every field a model reads, the simulator must send no field the model does not declare.
"""

import importlib
import inspect
import json
import os
import re
import sys

from alibabacloud_ccc20170705 import models as ccc_models
from alibabacloud_ccc20170705.client import Client as TeaClient
from alibabacloud_ccc20200701 import models as ccc2_models
from alibabacloud_ccc20200701.client import Client as Tea2Client
from alibabacloud_tea_openapi import exceptions as open_api_exceptions
from alibabacloud_tea_openapi import models as open_api_models
from aliyunsdkccc.request.v20200701.GetCallDetailRecordRequest import GetCallDetailRecordRequest
from aliyunsdkccc.request.v20200701.ListCallDetailRecordsRequest import (
    ListCallDetailRecordsRequest as Classic2ListRequest,
)
from aliyunsdkccc.request.v20200701.ListMonoRecordingsRequest import ListMonoRecordingsRequest
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
AGENT_KEY_ID = os.environ["SIM_AGENT_KEY_ID"]
AGENT_KEY_SECRET = os.environ["SIM_AGENT_KEY_SECRET"]
CLASSIC_CCC_2017 = os.environ["SIM_CLASSIC_CCC_2017"]
with open(os.environ["SIM_TRUTH"], encoding="utf-8") as _truth:
    TRUTH = json.load(_truth)
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


# --- The whole-instance actions: ListCallDetailRecords 2017-07-05 and 2020-07-01, GetCallDetailRecord and
# ListMonoRecordings 2020-07-01, compared with the simulator's truth views of the window.


def truth_ids(records, newest_first=True):
    ids = [r["ContactId"] for r in records]
    return ids if newest_first else ids[::-1]


CCC2_RECORDS = [c["Record"] for c in TRUTH["ccc2"]]
CCC2_BY_ID = {c["Record"]["ContactId"]: c for c in TRUTH["ccc2"]}


def first_difference(got, expected):
    """Where two record lists part: (count got, count expected, index, the differing fields), for a message."""
    for i, (g, e) in enumerate(zip(got, expected)):
        if g != e:
            return len(got), len(expected), i, differences(g, e)[0][:3] or sorted(set(e) ^ set(g))
    return len(got), len(expected)


def picked_calls():
    """One call passed between agents with a recording per leg (a rated one if any), and one that never
    connected."""
    calls = TRUTH["ccc2"]
    transferred = [c for c in calls if len(c["Detail"].get("AgentEvents", [])) > 1 and len(c["MonoRecordings"]) > 1]
    transferred.sort(key=lambda c: "SatisfactionIndex" not in c["Record"])
    unanswered = [c for c in calls if "EstablishedTime" not in c["Record"]]
    check_once("truth: the window holds a transferred, recorded call and an unanswered one",
          len(transferred) > 0 and len(unanswered) > 0, (len(transferred), len(unanswered)))
    return [c["Record"]["ContactId"] for c in transferred[:1] + unanswered[:1]]


def differences(parsed, truth, path=""):
    """Where a model's to_map() disagrees with the JSON the simulator sent (the truth), and which keys of the
    truth the model did not read: (differences, unread paths). Types must match exactly (1 is not True)."""
    if isinstance(parsed, dict) and isinstance(truth, dict):
        diffs, unread = [], []
        for key, value in parsed.items():
            if key not in truth:
                if value != []:  # to_map() writes an unset list as []
                    diffs.append(f"{path}.{key}: {value!r} not sent")
                continue
            d, u = differences(value, truth[key], f"{path}.{key}")
            diffs += d
            unread += u
        unread += [f"{path}.{key}" for key in truth if key not in parsed]
        return diffs, unread
    if isinstance(parsed, list) and isinstance(truth, list) and len(parsed) == len(truth):
        diffs, unread = [], []
        for i, (p, t) in enumerate(zip(parsed, truth)):
            d, u = differences(p, t, f"{path}[{i}]")
            diffs += d
            unread += u
        return diffs, unread
    if type(parsed) is type(truth) and parsed == truth:
        return [], []
    return [f"{path}: {parsed!r} != {truth!r}"], []


def check_all_read(name, unread):
    """The simulator sent no field the model does not read (unread: paths from differences())."""
    fields = sorted({re.sub(r"\[\d+\]", "[]", u.lstrip(".")) for u in unread})
    check(name, not fields, "the model does not read " + ", ".join(fields))


def check_parsed(name, model, truth):
    """The model's to_map() agrees with the truth on every field it reads: (differences, unread paths)."""
    diffs, unread = differences(model.to_map(), truth)
    check(name, not diffs, diffs[:5])
    return unread


def type_errors(model, path=""):
    """Fields whose parsed value is not of the type the model declares (str, int, bool; models and lists of
    models are walked)."""
    errors = []
    for name, param in inspect.signature(type(model).__init__).parameters.items():
        if name == "self":
            continue
        declared = param.annotation if isinstance(param.annotation, str) else getattr(
            param.annotation, "__name__", str(param.annotation))
        value = getattr(model, name, None)
        if value is None:
            continue
        items = value if isinstance(value, list) else [value]
        for item in items:
            if hasattr(item, "to_map"):
                errors += type_errors(item, f"{path}.{name}")
            elif declared in ("str", "int", "bool") and type(item).__name__ != declared:
                errors.append(f"{path}.{name}: {type(item).__name__} {item!r}, declared {declared}")
    return errors


def check_types(name, models):
    errors = [e for m in models for e in type_errors(m)]
    check(name, not errors, sorted(set(errors))[:5])


def tea2_client(key_id, secret):
    config = open_api_models.Config(
        access_key_id=key_id,
        access_key_secret=secret,
        endpoint=HOST,
        protocol="http",
        region_id="cn-shanghai",
        # The Tea SDK signs with ACS3-HMAC-SHA256 unless told 'v2': then it signs RPC actions with v1.
        signature_algorithm="v2",
    )
    return Tea2Client(config)


def tea2_list_request(page_number):
    return ccc2_models.ListCallDetailRecordsRequest(
        instance_id=INSTANCE,
        page_number=page_number,
        page_size=PAGE_SIZE,
        start_time=START_MS,
        end_time=STOP_MS,
        sort_order="ASC",
    )


def tea_sdk_2020():
    """Tea 2020-07-01 SDK with signature_algorithm='v2': the flat list, a call's detail and its recordings."""
    client = tea2_client(KEY_ID, SECRET)
    records, totals = [], []
    for page_number in range(1, 101):
        body = client.list_call_detail_records(tea2_list_request(page_number)).body
        check_once("tea 2.0: the v1-signed POST is accepted with Code OK and HttpStatusCode 200",
                   body.code == "OK" and body.http_status_code == 200, (body.code, body.http_status_code))
        totals.append(body.data.total_count)
        page = body.data.list or []
        records.extend(page)
        if len(page) < PAGE_SIZE:
            break
    check("tea 2.0: ListCallDetailRecords pages (SortOrder=ASC) give the truth's calls, oldest first",
          [r.contact_id for r in records] == truth_ids(CCC2_RECORDS, newest_first=False),
          first_difference([r.contact_id for r in records], truth_ids(CCC2_RECORDS, newest_first=False)))
    check("tea 2.0: TotalCount on page 1 is the window's count", totals[0] == len(CCC2_RECORDS),
          (totals[0], len(CCC2_RECORDS)))
    check("tea 2.0: the pages take several requests", len(totals) > 1, len(totals))
    oldest_first = CCC2_RECORDS[::-1]
    diffs = [d for r, t in zip(records, oldest_first) for d in differences(r.to_map(), t)[0]]
    check("tea 2.0: the list records parse into the model as the truth says", not diffs, diffs[:5])
    check_all_read("tea 2.0: the list records carry only fields the model reads",
                   [u for r, t in zip(records, oldest_first) for u in differences(r.to_map(), t)[1]])
    check_types("tea 2.0: list record fields have the model's types (CallDuration text)", records)
    check("tea 2.0: CallDuration is text", all(isinstance(r.call_duration, str) for r in records))

    details = []
    for contact_id in picked_calls():
        truth = CCC2_BY_ID[contact_id]
        detail = client.get_call_detail_record(
            ccc2_models.GetCallDetailRecordRequest(instance_id=INSTANCE, contact_id=contact_id)).body
        check_once("tea 2.0: GetCallDetailRecord is accepted with Code OK", detail.code == "OK", detail.code)
        data = detail.data
        check(f"tea 2.0: the detail of {contact_id} parses with its {len(truth['Detail'].get('AgentEvents', []))}"
              " AgentEvents as the truth says",
              data is not None and data.contact_id == contact_id
              and [e.to_map() for e in data.agent_events or []] == truth["Detail"].get("AgentEvents", []),
              data.to_map() if data else None)
        unread = check_parsed(
            f"tea 2.0: the detail of {contact_id} agrees with the truth on every field the model reads",
            data, truth["Detail"])
        check_all_read(f"tea 2.0: the detail of {contact_id} carries only fields the model reads (Satisfaction,"
                       " no SatisfactionIndex)", unread)
        details.append((truth["Record"], data))
        check_types(f"tea 2.0: the detail of {contact_id} has the model's types", [data])

        mono = client.list_mono_recordings(
            ccc2_models.ListMonoRecordingsRequest(instance_id=INSTANCE, contact_id=contact_id)).body
        files = mono.data or []
        links = [f.file_url for f in files]
        without_links = [{k: v for k, v in f.to_map().items() if k != "FileUrl"} for f in files]
        check(f"tea 2.0: the {len(truth['MonoRecordings'])} recording files of {contact_id} parse as the truth says",
              mono.code == "OK" and without_links == truth["MonoRecordings"], (without_links, truth["MonoRecordings"]))
        check_types(f"tea 2.0: the recording files of {contact_id} have the model's types (Duration text)", files)
        check(f"tea 2.0: the recording links of {contact_id} point at the simulator",
              all(isinstance(x, str) and x.startswith(f"http://{HOST}/_oss/{INSTANCE}/") for x in links), links)

    rated = [(r, d) for r, d in details if "SatisfactionIndex" in r]
    check("tea 2.0: a rated call's detail reads Satisfaction, an int equal to the list's SatisfactionIndex",
          len(rated) > 0 and all(isinstance(d.satisfaction, int) and d.satisfaction == r["SatisfactionIndex"]
                                 for r, d in rated)
          and all(d.satisfaction is None for r, d in details if "SatisfactionIndex" not in r),
          [(r["ContactId"], r.get("SatisfactionIndex"), d.satisfaction) for r, d in details])

    try:
        tea2_client(AGENT_KEY_ID, AGENT_KEY_SECRET).list_call_detail_records(tea2_list_request(1))
        check("tea 2.0: an agent-bound key is refused", False, "it was accepted")
    except open_api_exceptions.ClientException as e:
        check("tea 2.0: an agent-bound key is refused with 403 Forbidden.NoPermission",
              e.status_code == 403 and e.code == "Forbidden.NoPermission", (e.status_code, e.code, e.message))
    try:
        client.list_call_detail_records(tea2_list_request(101))
        check("tea 2.0: PageNumber 101 is refused", False, "it was accepted")
    except open_api_exceptions.ClientException as e:
        check("tea 2.0: PageNumber 101 is refused with 400 InvalidParameter naming it",
              e.status_code == 400 and e.code == "InvalidParameter" and "PageNumber" in (e.message or ""),
              (e.status_code, e.code, e.message))


def tea_sdk_2017_instance():
    """Tea 2017-07-05 SDK: ListCallDetailRecords, the wrapped whole-instance list (oldest first by default)."""
    client = tea_client(SECRET)
    records, totals = [], []
    for page_number in range(1, 1000):
        request = ccc_models.ListCallDetailRecordsRequest(
            instance_id=INSTANCE, page_number=page_number, page_size=PAGE_SIZE,
            start_time=START_MS, stop_time=STOP_MS)
        body = client.list_call_detail_records(request).body
        check_once("tea 1.0: ListCallDetailRecords is accepted with Success and Code OK",
                   body.success is True and body.code == "OK", (body.success, body.code))
        cdr = body.call_detail_records
        totals.append(cdr.total_count)
        page = cdr.list.call_detail_record if cdr.list else []
        records.extend(page)
        if len(page) < PAGE_SIZE:
            break
    expected = TRUTH["instance"][::-1]
    check("tea 1.0: ListCallDetailRecords pages give the truth's calls, oldest first",
          [r.contact_id for r in records] == [r["ContactId"] for r in expected],
          first_difference([r.contact_id for r in records], [r["ContactId"] for r in expected]))
    check("tea 1.0: TotalCount on page 1 is the window's count", totals[0] == len(expected), (totals[0], len(expected)))
    diffs = [d for r, t in zip(records, expected) for d in differences(r.to_map(), t)[0]]
    check("tea 1.0: the records, legs and recordings parse into the model as the truth says", not diffs, diffs[:5])
    check_all_read("tea 1.0: the records, legs and recordings carry only fields the model reads (no FilePath)",
                   [u for r, t in zip(records, expected) for u in differences(r.to_map(), t)[1]])
    check_types("tea 1.0: record fields have the model's types", records)
    legs = [leg for r in records if r.agents for leg in r.agents.call_detail_agent]
    recordings = [x for r in records if r.recordings for x in r.recordings.recording]
    check("tea 1.0: the model parses agent legs and recordings", len(legs) > 0 and len(recordings) > 0,
          (len(legs), len(recordings)))


def import_classic_2017():
    """The v20170705 request class of aliyun-python-sdk-ccc 1.x.

    aliyun-python-sdk-ccc 2.x carries only v20200701 and 1.x only v20170705, under the same package name, so
    1.0.30 is installed into its own directory (SIM_CLASSIC_CCC_2017) and imported with the 2.x modules set
    aside for the moment; the 2.x classes imported above keep working.
    """
    mine = lambda name: name == "aliyunsdkccc" or name.startswith("aliyunsdkccc.")  # noqa: E731
    saved = {name: sys.modules.pop(name) for name in list(sys.modules) if mine(name)}
    sys.path.insert(0, CLASSIC_CCC_2017)
    try:
        module = importlib.import_module("aliyunsdkccc.request.v20170705.ListCallDetailRecordsRequest")
    finally:
        sys.path.remove(CLASSIC_CCC_2017)
        for name in [name for name in sys.modules if mine(name)]:
            del sys.modules[name]
        sys.modules.update(saved)
    check("classic 1.0: the v20170705 request class comes from the 1.x SDK",
          os.path.abspath(module.__file__).startswith(os.path.abspath(CLASSIC_CCC_2017)), module.__file__)
    return module.ListCallDetailRecordsRequest


def classic_call(request, key_id=KEY_ID, secret=SECRET):
    """A request class through AcsClient, sent to the simulator over http; the JSON answer."""
    request.set_endpoint(HOST)
    request.set_protocol_type("http")
    request.set_accept_format("JSON")
    return json.loads(AcsClient(key_id, secret, "cn-shanghai").do_action_with_exception(request))


def classic_pages(make_request, records_of):
    records = []
    for page_number in range(1, 101):
        request = make_request()
        request.set_InstanceId(INSTANCE)
        request.set_PageNumber(page_number)
        request.set_PageSize(PAGE_SIZE)
        request.set_StartTime(START_MS)
        page = records_of(classic_call(request))
        records.extend(page)
        if len(page) < PAGE_SIZE:
            return records
    return records


def classic_sdk_ccc():
    """Classic aliyun-python-sdk-ccc request classes: every action param in the query, signed by the core SDK."""
    def list_2020():
        request = Classic2ListRequest()
        request.set_EndTime(STOP_MS)
        return request

    records = classic_pages(list_2020, lambda doc: doc.get("Data", {}).get("List", []))
    check("classic 2.0: ListCallDetailRecords (default newest first) answers exactly the truth's records",
          records == CCC2_RECORDS, first_difference(records, CCC2_RECORDS))

    list_2017_class = import_classic_2017()

    def list_2017():
        request = list_2017_class()
        request.set_StopTime(STOP_MS)
        request.set_OrderBy("DESC")
        return request

    records = classic_pages(list_2017, lambda doc: doc.get("CallDetailRecords", {}).get("List", {})
                            .get("CallDetailRecord", []))
    check("classic 1.0: ListCallDetailRecords (OrderBy=DESC) answers exactly the truth's records",
          records == TRUTH["instance"], first_difference(records, TRUTH["instance"]))

    for contact_id in picked_calls():
        truth = CCC2_BY_ID[contact_id]
        for cls, expected, name in [(GetCallDetailRecordRequest, truth["Detail"], "GetCallDetailRecord"),
                                    (ListMonoRecordingsRequest, truth["MonoRecordings"], "ListMonoRecordings")]:
            request = cls()
            request.set_InstanceId(INSTANCE)
            request.set_ContactId(contact_id)
            doc = classic_call(request)
            data = doc.get("Data")
            if isinstance(data, list):
                data = [{k: v for k, v in f.items() if k != "FileUrl"} for f in data]
            check(f"classic 2.0: {name} of {contact_id} answers the truth",
                  doc.get("Code") == "OK" and data == expected, (doc.get("Code"), data))

    request = GetCallDetailRecordRequest()
    request.set_InstanceId(INSTANCE)
    request.set_ContactId(CCC2_RECORDS[0]["ContactId"])
    try:
        classic_call(request, AGENT_KEY_ID, AGENT_KEY_SECRET)
        check("classic 2.0: an agent-bound key is refused", False, "it was accepted")
    except ServerException as e:
        check("classic 2.0: an agent-bound key is refused with 403 Forbidden.NoPermission",
              e.get_http_status() == 403 and e.get_error_code() == "Forbidden.NoPermission",
              (e.get_http_status(), e.get_error_code()))


def main():
    for part in (tea_sdk, core_sdk, tea_sdk_2020, tea_sdk_2017_instance, classic_sdk_ccc):
        try:
            part()
        except Exception as e:  # noqa: BLE001 - any crash is a failed check, reported with its cause
            check(f"{part.__name__} ran without an exception", False, f"{type(e).__name__}: {e}")
    print(f"{len(failures)} check(s) failed" if failures else "all checks passed", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
