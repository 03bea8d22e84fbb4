'use strict';
// Reference peer for bench/run.sh: the transport the Stigg Sidecar itself is built on (Node.js + @grpc/grpc-js),
// serving the same contract (protos/stigg/sidecar/v1/sidecar.proto) from an in-memory Map loaded from the same
// ENTITLEMENTS_FILE-shaped dataset. It does the least work an answer needs (a Map lookup and the response object),
// so it is a lower bound on what a Node sidecar costs per check, not a model of Stigg's whole engine.
//
//   node server.js --port N --data customers.json --proto-root protos

const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

function arg(name, fallback) {
  const i = process.argv.indexOf('--' + name);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  if (fallback !== undefined) return fallback;
  console.error(`node-sidecar: --${name} is required`);
  process.exit(2);
}

const port = Number(arg('port'));
const dataFile = arg('data');
const protoRoot = arg('proto-root', path.join(__dirname, '..', '..', '..', 'protos'));

const definition = protoLoader.loadSync('stigg/sidecar/v1/sidecar.proto', {
  includeDirs: [protoRoot],
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: false,
  oneofs: true,
});
const service = grpc.loadPackageDefinition(definition).stigg.sidecar.v1.SidecarService.service;

// customerId -> { reason, features: Map(featureId -> dto), credits: Map(currencyId -> dto) }
const customers = new Map();
for (const c of JSON.parse(fs.readFileSync(dataFile, 'utf8')).customers) {
  if (c.resourceId) continue;
  const features = new Map();
  const credits = new Map();
  for (const e of c.entitlementsState.entitlementsV2 || []) {
    if (e.feature) features.set(e.feature.refId, e);
    else if (e.currency) credits.set(e.currency.currencyId, e);
  }
  customers.set(c.customerId, { reason: c.entitlementsState.accessDeniedReason, features, credits });
}

const FEATURE_TYPES = { BOOLEAN: 'FEATURE_TYPE_BOOLEAN', NUMBER: 'FEATURE_TYPE_NUMBER', ENUM: 'FEATURE_TYPE_ENUM' };
const METER_TYPES = { None: 'METER_TYPE_NONE', Fluctuating: 'METER_TYPE_FLUCTUATING', Incremental: 'METER_TYPE_INCREMENTAL' };

function feature(e) {
  const f = e.feature;
  const meterType = METER_TYPES[f.meterType] || 'METER_TYPE_NONE';
  return {
    id: f.refId,
    featureType: FEATURE_TYPES[f.featureType] || 'FEATURE_TYPE_UNSPECIFIED',
    units: f.featureUnits || undefined,
    unitsPlural: f.featureUnitsPlural || undefined,
    meterType,
    isMetered: meterType !== 'METER_TYPE_NONE',
  };
}

function timestamp(value) {
  if (value === undefined || value === null) return undefined;
  const ms = typeof value === 'number' ? value : Date.parse(value);
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

// The lookup every getter starts with: the customer's entitlement or the reason there is none.
function lookup(request) {
  const customer = customers.get(request.customerId);
  if (!customer) return { reason: 'ACCESS_DENIED_REASON_CUSTOMER_NOT_FOUND' };
  const e = customer.features.get(request.featureId);
  if (!e) return { reason: 'ACCESS_DENIED_REASON_NO_FEATURE_ENTITLEMENT_IN_SUBSCRIPTION' };
  return { e };
}

function metered(e) {
  return {
    feature: feature(e),
    usageLimit: e.usageLimit === null ? undefined : e.usageLimit,
    isUnlimited: !!e.hasUnlimitedUsage,
    currentUsage: e.currentUsage || 0,
    usagePeriodStart: timestamp(e.usagePeriodStart),
    usagePeriodEnd: timestamp(e.usagePeriodEnd),
    hasSoftLimit: !!e.hasSoftLimit,
  };
}

const handlers = {
  GetBooleanEntitlement(call, callback) {
    const { e, reason } = lookup(call.request);
    if (!e) return callback(null, { hasAccess: false, accessDeniedReason: reason, entitlement: { feature: { id: call.request.featureId } } });
    callback(null, { hasAccess: true, entitlement: { feature: feature(e) } });
  },
  GetNumericEntitlement(call, callback) {
    const { e, reason } = lookup(call.request);
    if (!e) return callback(null, { hasAccess: false, accessDeniedReason: reason, entitlement: { feature: { id: call.request.featureId } } });
    callback(null, { hasAccess: true, entitlement: { feature: feature(e), value: e.usageLimit || 0, isUnlimited: !!e.hasUnlimitedUsage } });
  },
  GetMeteredEntitlement(call, callback) {
    const { e, reason } = lookup(call.request);
    const requested = (call.request.options && call.request.options.requestedUsage) || 0;
    if (!e) return callback(null, { hasAccess: false, accessDeniedReason: reason, requestedUsage: requested, entitlement: { feature: { id: call.request.featureId } } });
    const hasAccess = !!e.hasUnlimitedUsage || !!e.hasSoftLimit || (e.currentUsage || 0) + requested <= (e.usageLimit || 0);
    const response = { hasAccess, requestedUsage: requested, entitlement: metered(e) };
    if (!hasAccess) response.accessDeniedReason = 'ACCESS_DENIED_REASON_REQUESTED_USAGE_EXCEEDING_LIMIT';
    callback(null, response);
  },
  GetEnumEntitlement(call, callback) {
    const { e, reason } = lookup(call.request);
    const requested = (call.request.options && call.request.options.requestedValues) || [];
    if (!e) return callback(null, { hasAccess: false, accessDeniedReason: reason, requestedValues: requested, entitlement: { feature: { id: call.request.featureId } } });
    const values = e.enumValues || [];
    const hasAccess = requested.every((v) => values.includes(v));
    const response = { hasAccess, requestedValues: requested, entitlement: { feature: feature(e), enumValues: values } };
    if (!hasAccess) response.accessDeniedReason = 'ACCESS_DENIED_REASON_REQUESTED_VALUES_MISMATCH';
    callback(null, response);
  },
  GetEntitlementV2(call, callback) {
    const r = call.request;
    const customer = customers.get(r.customerId);
    const requested = (r.options && r.options.requestedUsage) || 0;
    if (r.currencyId) {
      const c = customer && customer.credits.get(r.currencyId);
      if (!c) return callback(null, { entitlement: { hasAccess: false, accessDeniedReason: 'ACCESS_DENIED_REASON_CUSTOMER_NOT_FOUND' } });
      const remaining = c.usageLimit - c.currentUsage;
      const hasAccess = remaining > 0 && requested <= remaining;
      return callback(null, {
        entitlement: {
          hasAccess,
          credit: {
            currency: { currencyId: c.currency.currencyId, displayName: c.currency.displayName || '' },
            usageLimit: c.usageLimit, currentUsage: c.currentUsage, remaining, hasSoftLimit: !!c.hasSoftLimit,
            usagePeriodEnd: timestamp(c.usagePeriodEnd),
          },
        },
      });
    }
    const { e, reason } = lookup(r);
    if (!e) return callback(null, { entitlement: { hasAccess: false, accessDeniedReason: reason } });
    callback(null, { entitlement: { hasAccess: true, boolean: { feature: feature(e) } } });
  },
};

function unimplemented(call, callback) {
  callback({ code: grpc.status.UNIMPLEMENTED, details: 'not part of the benchmark peer' });
}

const implementation = {};
for (const name of Object.keys(service)) implementation[name] = handlers[name] || unimplemented;

const server = new grpc.Server();
server.addService(service, implementation);
server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
  if (err) {
    console.error('node-sidecar: bind failed: ' + err.message);
    process.exit(1);
  }
  console.log(`node-sidecar listening on 127.0.0.1:${bound} with ${customers.size} customers`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.tryShutdown(() => process.exit(0)));
}
