#!/usr/bin/env python3
"""Writes a benchmark dataset in the ENTITLEMENTS_FILE / emulator fixture format (Edge-shaped entitlementsState per
customer, like samples/entitlements.json).

    gen_dataset.py --customers 10000 --features 20 --out bench/out/data/customers-10k.json

Customers are named cust-000000 .. cust-NNNNNN. Every customer gets the same feature ids (a realistic plan
catalogue: booleans, numeric limits, metered features with monthly/daily reset, enums) plus credit grants, with
per-customer values drawn from a seeded RNG, so the file is the same for the same arguments. With --features 3 the
mix is one boolean, one metered feature and one credit grant (the 1M-customer dataset keeps per-customer size small).

The feature ids the load client asks for are printed as JSON on stdout (--print-ids), so the harness does not have
to know the catalogue.
"""

import argparse
import datetime
import json
import random
import sys

UPDATED_AT = "2026-11-01T10:00:00.000Z"
PERIOD_ANCHOR = "2026-01-01T00:00:00.000Z"
# Far-future usage periods keep the lazy rollover (and its allocation) off the hot path, as in a live month.
PERIOD_START = "2026-11-01T00:00:00.000Z"
PERIOD_END = "2099-12-01T00:00:00.000Z"
VARIANTS = 512
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-south-1", "ap-northeast-1"]


def epoch_ms(iso):
    return int(datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def catalogue(n):
    """The feature slots for n entitlements per customer: (kind, id) with kind in boolean/numeric/metered/enum/credit."""
    if n <= 3:
        base = [("boolean", "feature-sso"), ("metered", "feature-api-calls"), ("credit", "ai-credits")]
        return base[:n]
    # 20 slots: 6 boolean, 4 numeric, 5 metered, 3 enum, 2 credits; other sizes scale the same proportions.
    weights = [("boolean", 6), ("numeric", 4), ("metered", 5), ("enum", 3), ("credit", 2)]
    slots = []
    counts = {k: max(1, round(w * n / 20)) for k, w in weights}
    while sum(counts.values()) > n:
        biggest = max(counts, key=lambda k: counts[k])
        counts[biggest] -= 1
    while sum(counts.values()) < n:
        counts["boolean"] += 1
    for kind, _ in weights:
        for i in range(counts[kind]):
            if kind == "credit":
                slots.append((kind, "credits-%d" % i if i else "ai-credits"))
            else:
                slots.append((kind, "feature-%s-%02d" % (kind, i)))
    return slots


def feature_dto(fid, feature_type, small, meter_type=None, units=None):
    d = {"refId": fid, "featureType": feature_type}
    if not small:
        d["__typename"] = "EntitlementFeature"
        d["displayName"] = fid.replace("-", " ").title()
    if meter_type:
        d["meterType"] = meter_type
    if units:
        d["featureUnits"] = units
        d["featureUnitsPlural"] = units + "s"
    return d


def entitlement(kind, fid, rng, small):
    # The small shape (1M customers) keeps only what evaluation reads: the mapper tells credits from features by
    # the presence of "currency" when "__typename" is absent.
    if kind == "credit":
        limit = rng.choice([1000, 5000, 20000, 100000])
        e = {"currency": {"currencyId": fid},
             "usageLimit": limit, "currentUsage": rng.randrange(0, limit), "hasSoftLimit": False,
             "usageUpdatedAt": UPDATED_AT, "entitlementUpdatedAt": UPDATED_AT, "usagePeriodEnd": PERIOD_END}
        if not small:
            e["__typename"] = "CreditEntitlement"
            e["isGranted"] = True
            e["currency"].update({"displayName": fid.replace("-", " ").title(),
                                  "unitSingular": "credit", "unitPlural": "credits"})
        return e
    e = {"entitlementUpdatedAt": UPDATED_AT}
    if not small:
        e["__typename"] = "FeatureEntitlement"
        e["isGranted"] = True
    if kind == "boolean":
        e["feature"] = feature_dto(fid, "BOOLEAN", small)
    elif kind == "numeric":
        e["usageLimit"] = rng.choice([5, 10, 25, 100])
        e["hasUnlimitedUsage"] = rng.random() < 0.1
        e["feature"] = feature_dto(fid, "NUMBER", small, "None", "seat")
    elif kind == "metered":
        limit = rng.choice([1000, 10000, 100000])
        e.update({"usageLimit": limit, "hasUnlimitedUsage": False, "hasSoftLimit": rng.random() < 0.2,
                  "currentUsage": rng.randrange(0, limit), "usageUpdatedAt": UPDATED_AT,
                  "usagePeriodAnchor": PERIOD_ANCHOR, "usagePeriodStart": PERIOD_START,
                  "usagePeriodEnd": PERIOD_END, "resetPeriod": "MONTH"})
        if not small:
            e["resetPeriodConfiguration"] = {"__typename": "MonthlyResetPeriodConfig",
                                             "monthlyAccordingTo": "SubscriptionStart"}
        e["feature"] = feature_dto(fid, "NUMBER", small, "Incremental", "call")
    elif kind == "enum":
        e["enumValues"] = rng.sample(REGIONS, rng.randint(1, 3))
        e["feature"] = feature_dto(fid, "ENUM", small)
    return e


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--customers", type=int, required=True)
    p.add_argument("--features", type=int, default=20)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--print-ids", action="store_true", help="print the catalogue as JSON on stdout")
    a = p.parse_args()

    rng = random.Random(a.seed)
    slots = catalogue(a.features)
    small = a.features <= 3
    width = max(6, len(str(a.customers - 1)))
    # A pool of distinct entitlement states (different limits, usage, enum values, as customers on different plans
    # and usage levels have), each customer drawing one: writing 1M customers is then string formatting, not
    # 1M json.dumps calls.
    pool = []
    for _ in range(min(a.customers, VARIANTS)):
        state = {"entitlementsV2": [entitlement(kind, fid, rng, small) for kind, fid in slots]}
        text = json.dumps(state, separators=(",", ":"))
        if small:
            # Epoch milliseconds (the Edge's legacy form, also accepted) are half the bytes of ISO strings.
            for iso in (UPDATED_AT, PERIOD_ANCHOR, PERIOD_START, PERIOD_END):
                text = text.replace('"%s"' % iso, str(epoch_ms(iso)))
        pool.append(text)
    # Streamed writes: the 1M dataset never sits in memory as one string.
    with open(a.out, "w", encoding="utf-8", buffering=1 << 20) as f:
        f.write('{"customers":[\n')
        prefix = '{"customerId":"cust-%0' + str(width) + 'd","entitlementsState":'
        for i in range(a.customers):
            if i:
                f.write(",\n")
            f.write(prefix % i)
            f.write(pool[rng.randrange(len(pool))])
            f.write("}")
        f.write("\n]}\n")

    if a.print_ids:
        ids = {}
        for kind, fid in slots:
            ids.setdefault(kind, []).append(fid)
        json.dump({"customerIdWidth": width, "customers": a.customers, "ids": ids}, sys.stdout)
        sys.stdout.write("\n")


if __name__ == "__main__":
    main()
