// node check.js CUSTOMER FEATURE [HOST:PORT] — one metered check against a running sidecar.
const path = require("path");
const grpc = require("@grpc/grpc-js");
const loader = require("@grpc/proto-loader");

const [customerId = "acme", featureId = "feature-storage-gb", target = "localhost:50051"] = process.argv.slice(2);
const definition = loader.loadSync(path.join(__dirname, "../../protos/stigg/sidecar/v1/sidecar.proto"), {
  includeDirs: [path.join(__dirname, "../../protos")],
  enums: String,
  defaults: true,
});
const { SidecarService } = grpc.loadPackageDefinition(definition).stigg.sidecar.v1;
const client = new SidecarService(target, grpc.credentials.createInsecure());

client.GetMeteredEntitlement({ customerId, featureId, options: { requestedUsage: 1 } }, (err, r) => {
  if (err) {
    console.error(`${err.code} ${err.details}`);
    process.exit(1);
  }
  const e = r.entitlement || {};
  console.log(`hasAccess=${r.hasAccess} isFallback=${r.isFallback} usage=${e.currentUsage}/${e.usageLimit} reason=${r.accessDeniedReason || "-"}`);
  client.close();
});
