import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAll } from 'js-yaml';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { afterAll, describe, expect, it } from 'vitest';
import { loadStackConfig } from '../stack-config.js';

/**
 * deploy/ validated offline (issue 17 §1: no cluster, no internet here):
 *
 *  - Kubernetes: every document checked against the Kubernetes OpenAPI
 *    schemas that `kubernetes-models` carries (ajv-compiled, per kind), then
 *    what a schema cannot see — selectors that select something, named ports
 *    that exist, ConfigMaps and Secret keys that are documented, every
 *    environment variable in deploy/README.md, and the master's and the edge's
 *    whole environment accepted by stack-config.ts (the code's own validator);
 *  - nginx: `nginx -t` (Debian's nginx) on deploy/nginx/healthcode.conf;
 *  - systemd: `systemd-analyze verify` on deploy/systemd/*.service, with the
 *    env examples again through stack-config.ts.
 */
const DEPLOY = fileURLToPath(new URL('.', import.meta.url));
const README = readFileSync(join(DEPLOY, 'README.md'), 'utf8');
const tmp = mkdtempSync(join(tmpdir(), 'hc-deploy-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type Doc = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; [k: string]: unknown };
type Labels = Record<string, string>;

const MODELS: Record<string, new (d: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/DaemonSet': DaemonSet,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
};

const K8S = join(DEPLOY, 'k8s');
const files = readdirSync(K8S).filter((f) => f.endsWith('.yaml'));
const docs: (Doc & { file: string })[] = files
  .filter((f) => f !== 'kustomization.yaml')
  .flatMap((file) => (loadAll(readFileSync(join(K8S, file), 'utf8')) as Doc[]).filter((d) => d !== null).map((d) => ({ ...d, file })));

interface Container {
  name: string;
  command?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } } }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: { cpu?: string } };
}
interface Probe {
  httpGet?: { path: string; port: string | number };
  tcpSocket?: { port: string | number };
}
interface Workload extends Doc {
  spec: { selector: { matchLabels: Labels }; template: { metadata: { labels: Labels }; spec: { containers: Container[]; initContainers?: Container[] } } };
}

const workloads = docs.filter((d) => ['DaemonSet', 'Deployment', 'StatefulSet'].includes(d.kind)) as unknown as (Workload & { file: string })[];
const byName = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name);
const matches = (selector: Labels, labels: Labels) => Object.entries(selector).every(([k, v]) => labels[k] === v);
const containersOf = (w: Workload) => [...w.spec.template.spec.containers, ...(w.spec.template.spec.initContainers ?? [])];

/** A variable or secret key is documented when deploy/README.md names it in backquotes. */
const documented = (name: string) => README.includes(`\`${name}\``);

/** What `kubectl create secret generic healthcode-secrets` (config.yaml) would hold: generated, never fixed. */
function secretValues(): Record<string, string> {
  return {
    HC_SESSION_KEY: randomBytes(32).toString('hex'),
    HC_SYNC_TOKEN: randomBytes(32).toString('hex'),
    HC_PII_KEY: randomBytes(32).toString('hex'),
    HC_LOOKUP_KEY: randomBytes(32).toString('hex'),
    HC_UID_PEPPER: randomBytes(32).toString('hex'),
    DATABASE_URL: 'postgres://healthcode:pw@pg-1.db:5432,pg-2.db:5432/healthcode?target_session_attrs=read-write',
    DATABASE_READ_URL: 'postgres://healthcode_ro:pw@pg-2.db:5432,pg-1.db:5432/healthcode?target_session_attrs=prefer-standby',
    REDIS_PASSWORD: randomBytes(24).toString('hex'),
    REDIS_URL: 'redis://:pw@sentinel/0',
  };
}

/** A container's environment as the kubelet would build it (ConfigMaps from this folder, the Secret generated). */
function containerEnv(c: Container, fieldRefs: Record<string, string>): Record<string, string> {
  const secret = secretValues();
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    if (from.configMapRef !== undefined) Object.assign(env, (byName('ConfigMap', from.configMapRef.name) as unknown as { data: Labels }).data);
    if (from.secretRef !== undefined) Object.assign(env, secret);
  }
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.secretKeyRef !== undefined) env[e.name] = secret[e.valueFrom.secretKeyRef.key]!;
    else if (e.valueFrom?.fieldRef !== undefined) env[e.name] = fieldRefs[e.valueFrom.fieldRef.fieldPath]!;
  }
  return env;
}

function envFile(path: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m !== null) env[m[1]!] = m[2]!;
  }
  return env;
}

const TYPES: Record<string, [string, string]> = {
  'v1/Namespace': ['kubernetes-models/v1/Namespace', 'INamespace'],
  'v1/ConfigMap': ['kubernetes-models/v1/ConfigMap', 'IConfigMap'],
  'v1/Service': ['kubernetes-models/v1/Service', 'IService'],
  'apps/v1/DaemonSet': ['kubernetes-models/apps/v1/DaemonSet', 'IDaemonSet'],
  'apps/v1/Deployment': ['kubernetes-models/apps/v1/Deployment', 'IDeployment'],
  'apps/v1/StatefulSet': ['kubernetes-models/apps/v1/StatefulSet', 'IStatefulSet'],
  'policy/v1/PodDisruptionBudget': ['kubernetes-models/policy/v1/PodDisruptionBudget', 'IPodDisruptionBudget'],
  'networking.k8s.io/v1/NetworkPolicy': ['kubernetes-models/networking.k8s.io/v1/NetworkPolicy', 'INetworkPolicy'],
};

/** Every document as a typed object literal in a scratch TypeScript file, compiled with tsc: the errors (empty = clean). */
function typeCheck(list: readonly Doc[]): string[] {
  const dir = mkdtempSync(join(tmp, 'types-'));
  const root = join(DEPLOY, '..');
  const imports = new Set<string>();
  const body = list.map((d, i) => {
    const [mod, type] = TYPES[`${d.apiVersion}/${d.kind}`]!;
    imports.add(`import type { ${type} } from '${mod}';`);
    const { file: _file, ...raw } = d as Doc & { file?: string };
    return `export const d${i}: ${type} = ${JSON.stringify(raw, null, 1)};`;
  });
  writeFileSync(join(dir, 'check.ts'), [...imports, ...body, ''].join('\n'));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      strict: true, noEmit: true, skipLibCheck: true, module: 'esnext', moduleResolution: 'bundler', types: [],
      paths: { 'kubernetes-models/*': [join(root, 'node_modules/kubernetes-models/*')] },
    },
    files: ['check.ts'],
  }));
  const r = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8' });
  return r.status === 0 ? [] : (r.stdout + r.stderr).split('\n').filter((l) => l.includes('error TS'));
}

describe('deploy/k8s: Kubernetes manifests', () => {
  it('every document is a known kind and valid against the Kubernetes schemas', () => {
    expect(docs.length).toBeGreaterThan(10);
    for (const d of docs) {
      const Model = MODELS[`${d.apiVersion}/${d.kind}`];
      expect(Model, `${d.file}: ${d.apiVersion} ${d.kind} has no schema here`).toBeDefined();
      const { file: _file, ...raw } = d;
      expect(() => new Model!(raw as never).validate(), `${d.file}: ${d.kind} ${d.metadata.name}`).not.toThrow();
    }
  });

  it('no unknown field anywhere: every document type-checks against the Kubernetes API types (TypeScript excess-property checks)', () => {
    // JSON schemas allow unknown fields (a typo'd `readinesProbe` would pass them and be
    // dropped by the API server); the generated TypeScript interfaces do not.
    expect(typeCheck(docs)).toEqual([]);
    const typo = structuredClone(workloads.find((w) => w.kind === 'DaemonSet')!) as unknown as Doc & Workload;
    const c = typo.spec.template.spec.containers[0]! as unknown as Record<string, unknown>;
    c.readinesProbe = c.readinessProbe;
    delete c.readinessProbe;
    expect(typeCheck([typo]).join('\n')).toMatch(/readinesProbe/);
  }, 120_000);

  it('a broken manifest is caught (the validator is not a rubber stamp)', () => {
    const edge = structuredClone(workloads.find((w) => w.kind === 'DaemonSet')!) as unknown as Record<string, unknown> & Workload;
    delete (edge as { file?: string }).file;
    (edge.spec.template.spec.containers[0]!.ports![0] as { containerPort: unknown }).containerPort = 'eighty';
    expect(() => new DaemonSet(edge as never).validate()).toThrow(/containerPort/);
    delete (edge.spec as { selector?: unknown }).selector;
    expect(() => new DaemonSet(edge as never).validate()).toThrow(/selector/);
  });

  it('kustomization.yaml lists every manifest file, and only those', () => {
    const k = loadAll(readFileSync(join(K8S, 'kustomization.yaml'), 'utf8'))[0] as { resources: string[] };
    expect([...k.resources].sort()).toEqual(files.filter((f) => f !== 'kustomization.yaml').sort());
  });

  it('the parts issue 17 asks for are there: edge DaemonSet with a node-local volume and readiness on /readyz, master, log audit, Redis Sentinel', () => {
    const edge = workloads.find((w) => w.kind === 'DaemonSet' && w.metadata.name === 'healthcode-edge')!;
    const c = edge.spec.template.spec.containers[0]!;
    expect(c.command).toEqual(['node', 'dist/main.js']);
    expect(c.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(c.livenessProbe?.httpGet?.path).toBe('/healthz');
    const vols = (edge.spec.template.spec as unknown as { volumes: { name: string; hostPath?: { path: string } }[] }).volumes;
    expect(vols.find((v) => v.hostPath !== undefined)?.hostPath?.path).toBe('/var/lib/healthcode');
    const envOf = (w: Workload) => containerEnv(w.spec.template.spec.containers[0]!, {});
    expect(envOf(edge).HC_ROLE).toBe('edge');
    expect(envOf(workloads.find((w) => w.metadata.name === 'healthcode-master')!).HC_ROLE).toBe('master');
    expect(workloads.find((w) => w.metadata.name === 'healthcode-logaudit')!.spec.template.spec.containers[0]!.command).toEqual(['node', 'dist/logaudit/main.js']);
    const redis = workloads.find((w) => w.metadata.name === 'healthcode-redis')!;
    expect(redis.spec.template.spec.containers.map((x) => x.command?.at(-1))).toContain('--sentinel');
  });

  it('the Redis pods\' init script is valid sh and never starts a second primary blindly', () => {
    const cm = byName('ConfigMap', 'healthcode-redis') as unknown as { data: Record<string, string> };
    const script = join(tmp, 'redis-init.sh');
    writeFileSync(script, cm.data['init.sh']!);
    const r = spawnSync('sh', ['-n', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(cm.data['init.sh']).toContain('SENTINEL get-master-addr-by-name healthcode');
    expect(cm.data['redis.conf']).toContain('maxmemory-policy noeviction');
  });

  it('selectors select: workloads their own pods; Services, PDBs and NetworkPolicies some workload', () => {
    for (const w of workloads) expect(matches(w.spec.selector.matchLabels, w.spec.template.metadata.labels), `${w.metadata.name}`).toBe(true);
    const pods = workloads.map((w) => w.spec.template.metadata.labels);
    for (const d of docs) {
      const spec = d.spec as { selector?: Labels | { matchLabels: Labels }; podSelector?: { matchLabels: Labels } } | undefined;
      let sel: Labels | undefined;
      if (d.kind === 'Service') sel = spec!.selector as Labels;
      if (d.kind === 'PodDisruptionBudget') sel = (spec!.selector as { matchLabels: Labels }).matchLabels;
      if (d.kind === 'NetworkPolicy') sel = spec!.podSelector!.matchLabels;
      if (sel === undefined) continue;
      expect(pods.some((l) => matches(sel!, l)), `${d.kind} ${d.metadata.name} selects no pod`).toBe(true);
    }
  });

  it('named ports exist: probes and Service targetPorts refer to ports the containers declare', () => {
    for (const w of workloads) {
      for (const c of w.spec.template.spec.containers) {
        const names = new Set((c.ports ?? []).map((p) => p.name));
        for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) {
          const port = probe?.httpGet?.port ?? probe?.tcpSocket?.port;
          if (typeof port === 'string') expect(names.has(port), `${w.metadata.name}/${c.name}: probe port ${port}`).toBe(true);
        }
      }
    }
    for (const svc of docs.filter((d) => d.kind === 'Service')) {
      const spec = svc.spec as { selector: Labels; ports: { targetPort: string | number }[] };
      const selected = workloads.filter((w) => matches(spec.selector, w.spec.template.metadata.labels));
      const names = new Set(selected.flatMap((w) => w.spec.template.spec.containers.flatMap((c) => (c.ports ?? []).map((p) => p.name))));
      for (const p of spec.ports) if (typeof p.targetPort === 'string') expect(names.has(p.targetPort), `Service ${svc.metadata.name}: ${p.targetPort}`).toBe(true);
    }
  });

  it('every ConfigMap referenced is in the folder; every Secret key and environment variable is documented in deploy/README.md', () => {
    const undocumented: string[] = [];
    for (const w of workloads) {
      for (const c of containersOf(w)) {
        for (const from of c.envFrom ?? []) {
          if (from.configMapRef !== undefined) expect(byName('ConfigMap', from.configMapRef.name), from.configMapRef.name).toBeDefined();
          if (from.secretRef !== undefined) expect(from.secretRef.name).toBe('healthcode-secrets');
        }
        for (const e of c.env ?? []) {
          if (!documented(e.name)) undocumented.push(`${w.metadata.name}: ${e.name}`);
          const key = e.valueFrom?.secretKeyRef?.key;
          if (key !== undefined && !documented(key)) undocumented.push(`${w.metadata.name}: secret key ${key}`);
        }
      }
    }
    const config = byName('ConfigMap', 'healthcode-config') as unknown as { data: Labels };
    for (const k of Object.keys(config.data)) if (!documented(k)) undocumented.push(`healthcode-config: ${k}`);
    for (const k of Object.keys(secretValues())) if (!documented(k)) undocumented.push(`healthcode-secrets: ${k}`);
    expect(undocumented).toEqual([]);
  });

  it('the master\'s and the edge\'s whole environment passes stack-config.ts; edges run one server per requested core', () => {
    for (const [name, role] of [['healthcode-master', 'master'], ['healthcode-edge', 'edge']] as const) {
      const w = workloads.find((x) => x.metadata.name === name)!;
      const c = w.spec.template.spec.containers[0]!;
      const env = containerEnv(c, { 'spec.nodeName': 'edge-node-11', 'metadata.name': 'healthcode-master-0' });
      const config = loadStackConfig({ ...env, HC_DATA_DIR: join(tmp, name) });
      expect(config.role).toBe(role);
      expect(config.mode).toBe('cluster');
      expect(config.redisSentinel?.sentinels.length).toBe(3);
      if (role === 'edge') {
        expect(config.edge!.workers).toBe(Number(c.resources!.requests!.cpu));
        expect(config.sync.url).toBe('http://healthcode-sync:8082');
      } else {
        expect(config.databaseUrl).toContain(',');
        expect(config.databaseReadUrl).not.toBeNull();
      }
    }
  });
});

describe('deploy/nginx and deploy/systemd', () => {
  it('nginx -t accepts deploy/nginx/healthcode.conf', () => {
    const nginx = spawnSync('nginx', ['-v'], { encoding: 'utf8' });
    if (nginx.error !== undefined) throw new Error('nginx is not installed: `apt-get install nginx` (.ci/run installs it)');
    const dir = mkdtempSync(join(tmp, 'nginx-'));
    for (const host of ['code.example.gov.cn', 'admin.code.example.gov.cn']) {
      const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', `/CN=${host}`,
        '-keyout', join(dir, `${host}.key`), '-out', join(dir, `${host}.crt`)], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    }
    // the file as shipped; only its absolute paths are pointed into the test's directory
    const site = readFileSync(join(DEPLOY, 'nginx', 'healthcode.conf'), 'utf8').replaceAll('/etc/nginx/tls/', `${dir}/`).replaceAll('/var/log/nginx/', `${dir}/`).replaceAll('/var/cache/nginx/', `${dir}/`);
    writeFileSync(join(dir, 'healthcode.conf'), site);
    writeFileSync(join(dir, 'nginx.conf'), [
      `pid ${dir}/nginx.pid;`, `error_log ${dir}/error.log;`, 'events {}',
      `http { client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; include ${dir}/healthcode.conf; }`, '',
    ].join('\n'));
    const t = spawnSync('nginx', ['-t', '-p', dir, '-e', `${dir}/error.log`, '-c', join(dir, 'nginx.conf')], { encoding: 'utf8' });
    expect(t.status, t.stderr).toBe(0);
    expect(t.stderr).toMatch(/syntax is ok/);
    expect(t.stderr).not.toMatch(/\[warn\]|\[emerg\]/);
    // …and nginx -t does fail on a broken file
    writeFileSync(join(dir, 'healthcode.conf'), site.replace('proxy_pass http://edge_nodes;', 'proxy_pass http://edge_nodes'));
    expect(spawnSync('nginx', ['-t', '-p', dir, '-e', `${dir}/error.log`, '-c', join(dir, 'nginx.conf')]).status).not.toBe(0);
  });

  it('systemd-analyze verify accepts every unit without a warning', () => {
    const units = readdirSync(join(DEPLOY, 'systemd')).filter((f) => f.endsWith('.service'));
    expect(units.sort()).toEqual(['healthcode-edge.service', 'healthcode-logaudit.service', 'healthcode-master.service']);
    for (const u of units) {
      const r = spawnSync('systemd-analyze', ['verify', join(DEPLOY, 'systemd', u)], { encoding: 'utf8' });
      if (r.error !== undefined) throw new Error('systemd-analyze is not installed (Debian: systemd)');
      expect(r.status, `${u}: ${r.stderr}`).toBe(0);
      expect(r.stderr.trim(), u).toBe('');
    }
    const broken = join(tmp, 'broken.service');
    writeFileSync(broken, readFileSync(join(DEPLOY, 'systemd', 'healthcode-edge.service'), 'utf8').replace('Restart=always', 'Restart=always\nRestartt=2'));
    expect(spawnSync('systemd-analyze', ['verify', broken], { encoding: 'utf8' }).stderr).toMatch(/Unknown key/);
  });

  it('the systemd env examples pass stack-config.ts once their CHANGE-ME values are filled in; every variable is documented', () => {
    const secret = secretValues();
    for (const [file, role] of [['edge.env.example', 'edge'], ['master.env.example', 'master']] as const) {
      const raw = envFile(join(DEPLOY, 'systemd', file));
      for (const k of Object.keys(raw)) expect(documented(k), `${file}: ${k} is not in deploy/README.md`).toBe(true);
      const env = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, v.startsWith('CHANGE-ME') ? secret[k]! : v]));
      const config = loadStackConfig({ ...env, HC_DATA_DIR: join(tmp, file) });
      expect(config.role).toBe(role);
      expect(config.redisSentinel?.name).toBe('healthcode');
    }
  });
});
