// Drives edp's Iceberg REST catalog with iceberg-js, a client edp did not
// write. Run by internal/restcatalog's TestIcebergJS with EDP_ICEBERG_URI
// (the catalog base URL) and EDP_TOKEN (a bearer token) set. It prints
// "ok <step>" per step and exits non-zero on the first failure.
import { IcebergRestCatalog, IcebergError } from 'iceberg-js';

const catalog = new IcebergRestCatalog({
  baseUrl: process.env.EDP_ICEBERG_URI,
  warehouse: 'edp',
  auth: { type: 'bearer', token: process.env.EDP_TOKEN },
});

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function expectError(promise, test, what) {
  try {
    await promise;
  } catch (err) {
    check(err instanceof IcebergError, `${what}: want an IcebergError, got ${err}`);
    check(test(err), `${what}: unexpected error ${err.status} ${err.icebergType}: ${err.message}`);
    return err;
  }
  throw new Error(`${what}: succeeded, want an error`);
}

const ns = { namespace: ['js'] };
const schema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'id', type: 'long', required: false },
    { id: 2, name: 'kind', type: 'string', required: false },
  ],
};

async function main() {
  const config = await catalog.loadConfig();
  check(config.overrides.prefix === 'edp', `config prefix = ${JSON.stringify(config.overrides)}`);
  console.log('ok config');

  await catalog.createNamespace(ns, { properties: { owner: 'js' } });
  check(await catalog.namespaceExists(ns), 'namespace does not exist after create');
  const meta = await catalog.loadNamespaceMetadata(ns);
  check(meta.properties.owner === 'js', `namespace properties = ${JSON.stringify(meta.properties)}`);
  await catalog.updateNamespaceProperties(ns, { updates: { team: 'data' }, removals: ['owner'] });
  const { namespaces } = await catalog.listNamespaces();
  check(namespaces.some((n) => n.namespace[0] === 'js'), `listNamespaces = ${JSON.stringify(namespaces)}`);
  console.log('ok namespaces');

  const created = await catalog.createTable(ns, {
    name: 'events',
    schema,
    'partition-spec': { 'spec-id': 0, fields: [{ 'source-id': 2, 'field-id': 1000, name: 'kind', transform: 'identity' }] },
    properties: { 'write.parquet.compression-codec': 'zstd' },
  });
  check(created['format-version'] === 2, `format-version = ${created['format-version']}`);
  await catalog.createTable(ns, { name: 'scratch', schema });
  const { identifiers } = await catalog.listTables(ns);
  check(identifiers.length === 2, `listTables = ${JSON.stringify(identifiers)}`);
  const page = await catalog.listTables(ns, { pageSize: 1 });
  check(page.identifiers.length === 1 && page.nextPageToken, `listTables page = ${JSON.stringify(page)}`);
  console.log('ok tables');

  // A commit guarded by the table's uuid, then one with a stale schema id.
  const loaded = await catalog.loadTable({ namespace: ['js'], name: 'events' });
  await catalog.updateTable({ namespace: ['js'], name: 'events' }, {
    requirements: [{ type: 'assert-table-uuid', uuid: loaded['table-uuid'] }],
    updates: [{ action: 'set-properties', updates: { owner: 'js' } }],
  });
  await expectError(
    catalog.updateTable({ namespace: ['js'], name: 'events' }, {
      requirements: [{ type: 'assert-current-schema-id', 'current-schema-id': 42 }],
      updates: [{ action: 'set-properties', updates: { owner: 'nobody' } }],
    }),
    (e) => e.isConflict() && e.icebergType === 'CommitFailedException' && e.icebergCode === 409,
    'stale commit',
  );
  console.log('ok commit');

  await catalog.renameTable({
    source: { namespace: ['js'], name: 'scratch' },
    destination: { namespace: ['js'], name: 'renamed' },
  });
  check(await catalog.tableExists({ namespace: ['js'], name: 'renamed' }), 'renamed table missing');
  check(!(await catalog.tableExists({ namespace: ['js'], name: 'scratch' })), 'old name still exists');
  await catalog.dropTable({ namespace: ['js'], name: 'renamed' }, { purge: true });
  await expectError(catalog.loadTable({ namespace: ['js'], name: 'renamed' }), (e) => e.isNotFound(), 'load dropped table');
  await expectError(catalog.dropNamespace(ns), (e) => e.status === 409, 'drop non-empty namespace');
  console.log('ok rename and drop');
}

main().catch((err) => {
  console.error('FAIL', err && err.stack ? err.stack : err);
  process.exit(1);
});
