// Validates Kubernetes objects (a JSON array on stdin) against the Kubernetes and
// Prometheus Operator OpenAPI schemas of kubernetes-models (versions pinned in
// package-lock.json). Prints one line per invalid object; exit 1 if any.
const chunks = [];
process.stdin.on("data", (c) => chunks.push(c));
process.stdin.on("end", () => {
  const objects = JSON.parse(Buffer.concat(chunks).toString());
  let bad = 0;
  for (const obj of objects) {
    const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : [null, obj.apiVersion];
    const mod = group === "monitoring.coreos.com"
      ? `@kubernetes-models/prometheus-operator/${group}/${version}`
      : group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`;
    const where = `${obj.kind}/${obj.metadata && obj.metadata.name}`;
    let Cls;
    try {
      Cls = require(mod)[obj.kind];
    } catch (e) {
      Cls = undefined;
    }
    if (!Cls) {
      console.log(`${where}: no schema for ${obj.apiVersion} ${obj.kind}`);
      bad++;
      continue;
    }
    try {
      new Cls(obj).validate();
      console.log(`${where}: valid (${mod})`);
    } catch (e) {
      console.log(`${where}: INVALID: ${e.message}`);
      bad++;
    }
  }
  process.exit(bad ? 1 : 0);
});
