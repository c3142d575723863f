/**
 * The new members' peer SAN-check setting (`tls.peerSkipClientSanVerification`) is rendered once,
 * under the name and in the place the source writes it: etcd refuses an `ETCD_*` variable that
 * shadows a flag (3.5 and 3.6 exit, as does 3.4), and etcd 3.6 refuses the old and the new name
 * together. A name the target's etcd version does not have is refused before anything changes.
 */
import { describe, expect, it } from 'vitest';
import type { V1Container, V1StatefulSet } from '@kubernetes/client-node';
import { RenderError, renderTargetStatefulSet } from '../../activities/kubernetes/render-target.js';
import { booleanFlag, findFlag, setBooleanFlag, setFlag } from '../../activities/kubernetes/etcd-flags.js';
import { SKIP_SAN, SKIP_SAN_ENV, etcdContainerOf, tlsSourceStatefulSet } from '../helpers/tls-sources.js';
import { makeSpec } from './fixtures/migration-spec.js';

const NEW_NAME = 'peer-skip-client-san-verification';
const NEW_ENV = 'ETCD_PEER_SKIP_CLIENT_SAN_VERIFICATION';
const initialCluster =
  'etcd-0=https://etcd-0.etcd:2380,etcd-1=https://etcd-1.etcd:2380,etcd-2=https://etcd-2.etcd:2380,etcd-main-0=https://etcd-main-0.etcd-main:2380';

const spec = (skip = true, image?: string) =>
  makeSpec((s) => {
    s.tls = {
      peer: { issueFrom: { caSecret: 'etcd-ca' } },
      client: { issueFrom: { caSecret: 'etcd-ca' } },
      peerSkipClientSanVerification: skip,
    };
    if (image) s.target.image = image;
  });

function render(source: V1StatefulSet, skip = true, image?: string): V1Container {
  const { statefulSet } = renderTargetStatefulSet(source, spec(skip, image), { replicas: 1, initialCluster });
  return etcdContainerOf(statefulSet);
}

/** Every place a setting is written: flag tokens, script words, variables. */
function places(c: V1Container, flag: string): string[] {
  const envName = `ETCD_${flag.toUpperCase().replace(/-/g, '_')}`;
  return [
    ...[...(c.command ?? []), ...(c.args ?? [])].flatMap((element) =>
      [...element.matchAll(new RegExp(`(?<![\\w-])--?${flag}(=\\S+)?(?=\\s|$)`, 'g'))].map((m) => m[0]),
    ),
    ...(c.env ?? []).filter((e) => e.name === envName).map((e) => `${e.name}=${e.value}`),
  ];
}

const withEtcd = (sts: V1StatefulSet, edit: (c: V1Container) => void): V1StatefulSet => {
  const copy = structuredClone(sts);
  edit(etcdContainerOf(copy));
  return copy;
};

describe('the peer SAN-check setting of the new members', () => {
  it.each(['3.4', '3.5', '3.6'] as const)(
    'args style (etcd %s): a bare flag stays a bare flag, the next flag untouched, no variable',
    (version) => {
      const source = tlsSourceStatefulSet({ style: 'args', version });
      const etcd = render(source);
      expect(places(etcd, SKIP_SAN)).toEqual([`--${SKIP_SAN}`]);
      expect(places(etcd, NEW_NAME)).toEqual([]);
      const at = etcd.args!.indexOf(`--${SKIP_SAN}`);
      expect(etcd.args![at + 1]).toBe('--heartbeat-interval=200');
      expect(etcd.args).toHaveLength(etcdContainerOf(source).args!.length);
      expect(etcd.env!.some((e) => e.name.startsWith('ETCD_'))).toBe(false);
    },
  );

  it('args style: a bare flag at the end of args gets no variable beside it', () => {
    const source = withEtcd(tlsSourceStatefulSet({ style: 'args', version: '3.5' }), (c) => {
      c.args = [...c.args!.filter((a) => a !== `--${SKIP_SAN}`), `--${SKIP_SAN}`];
    });
    const etcd = render(source);
    expect(places(etcd, SKIP_SAN)).toEqual([`--${SKIP_SAN}`]);
    expect(etcd.args!.at(-1)).toBe(`--${SKIP_SAN}`);
  });

  it('args style: --flag=false becomes --flag=true in place; a false the spec does not override stays', () => {
    const source = withEtcd(tlsSourceStatefulSet({ style: 'args', version: '3.5' }), (c) => {
      c.args = c.args!.map((a) => (a === `--${SKIP_SAN}` ? `--${SKIP_SAN}=false` : a));
    });
    expect(places(render(source), SKIP_SAN)).toEqual([`--${SKIP_SAN}=true`]);
    expect(places(render(source, false), SKIP_SAN)).toEqual([`--${SKIP_SAN}=false`]);
  });

  it.each(['3.4', '3.5', '3.6'] as const)(
    'script style (etcd %s): the bare flag stays on its line, the next line intact, no variable',
    (version) => {
      const source = tlsSourceStatefulSet({ style: 'script', version });
      const script = etcdContainerOf(source).args![1]!;
      expect(script).toContain(`--${SKIP_SAN} \\\n--auto-compaction-mode=revision`);
      const etcd = render(source);
      expect(places(etcd, SKIP_SAN)).toEqual([`--${SKIP_SAN}`]);
      expect(places(etcd, NEW_NAME)).toEqual([]);
      expect(etcd.args![1]).toContain(`--${SKIP_SAN} \\\n--auto-compaction-mode=revision \\\n`);
      expect(booleanFlag(etcd, SKIP_SAN)).toEqual({ where: 'script', text: '', value: true });
    },
  );

  it.each(['3.4', '3.5', '3.6'] as const)(
    'env style (etcd %s): the variable is kept under its name, no flag and no second name added',
    (version) => {
      const etcd = render(tlsSourceStatefulSet({ style: 'env', version }));
      expect(places(etcd, SKIP_SAN)).toEqual([`${SKIP_SAN_ENV}=true`]);
      // etcd 3.6 refuses --experimental-peer-skip-client-san-verification with --peer-skip-...
      expect(places(etcd, NEW_NAME)).toEqual([]);
    },
  );

  it("etcd 3.6 sources that use the new name keep it; a source without the setting gets the version's name", () => {
    const renamed = withEtcd(tlsSourceStatefulSet({ style: 'env', version: '3.6' }), (c) => {
      c.env = c.env!.map((e) => (e.name === SKIP_SAN_ENV ? { name: NEW_ENV, value: 'false' } : e));
    });
    expect(places(render(renamed), NEW_NAME)).toEqual([`${NEW_ENV}=true`]);
    expect(places(render(renamed), SKIP_SAN)).toEqual([]);
    const without = (version: '3.5' | '3.6') =>
      withEtcd(tlsSourceStatefulSet({ style: 'env', version }), (c) => {
        c.env = c.env!.filter((e) => e.name !== SKIP_SAN_ENV);
      });
    expect(places(render(without('3.6')), NEW_NAME)).toEqual([`${NEW_ENV}=true`]);
    expect(places(render(without('3.6')), SKIP_SAN)).toEqual([]);
    expect(places(render(without('3.5')), SKIP_SAN)).toEqual([`${SKIP_SAN_ENV}=true`]);
    // Not asked for, not set: nothing added.
    expect(places(render(without('3.5'), false), SKIP_SAN)).toEqual([]);
  });

  it('refuses a name the target version does not have, and both names at once, naming the problem', () => {
    const newName = withEtcd(tlsSourceStatefulSet({ style: 'args', version: '3.6' }), (c) => {
      c.args = c.args!.map((a) => (a === `--${SKIP_SAN}` ? `--${NEW_NAME}` : a));
    });
    expect(() => render(newName, true, 'gcr.io/etcd-development/etcd:v3.5.35')).toThrow(RenderError);
    expect(() => render(newName, true, 'gcr.io/etcd-development/etcd:v3.5.35')).toThrow(
      /container etcd sets --peer-skip-client-san-verification \(args\), which etcd 3\.5 of image gcr\.io\/etcd-development\/etcd:v3\.5\.35 does not have/,
    );
    // Refused also when the spec does not ask for it: the new members would not start.
    expect(() => render(newName, false, 'gcr.io/etcd-development/etcd:v3.5.35')).toThrow(RenderError);
    expect(() =>
      render(tlsSourceStatefulSet({ style: 'script', version: '3.6' }), true, 'registry.k8s.io/etcd:3.7.0-0'),
    ).toThrow(/sets --experimental-peer-skip-client-san-verification \(script\), which etcd 3\.7/);
    const both = withEtcd(tlsSourceStatefulSet({ style: 'env', version: '3.6' }), (c) => {
      c.env!.push({ name: NEW_ENV, value: 'true' });
    });
    expect(() => render(both)).toThrow(
      /sets both --experimental-peer-skip-client-san-verification and --peer-skip/,
    );
  });
});

describe('setting a flag never writes it twice', () => {
  const container = (extra: Partial<V1Container>): V1Container => ({ name: 'etcd', ...extra });

  it('a boolean flag: bare, inline, in a script, in a variable, or added once as a variable', () => {
    const args = setBooleanFlag(container({ args: ['--a', '--pre-vote', '--b=1'] }), 'pre-vote', true);
    expect(args.container.args).toEqual(['--a', '--pre-vote', '--b=1']);
    expect(args.where).toEqual(['args']);
    expect(
      setBooleanFlag(container({ args: ['--pre-vote', '--b'] }), 'pre-vote', false).container.args,
    ).toEqual(['--pre-vote=false', '--b']);
    const script = setBooleanFlag(
      container({ command: ['sh', '-c', 'etcd --pre-vote=false \\\n  --name x'] }),
      'pre-vote',
      true,
    );
    expect(script.container.command![2]).toBe('etcd --pre-vote=true \\\n  --name x');
    expect(script.container.env).toBeUndefined();
    const env = setBooleanFlag(
      container({ env: [{ name: 'ETCD_PRE_VOTE', value: 'false' }] }),
      'pre-vote',
      true,
    );
    expect(env.container.env).toEqual([{ name: 'ETCD_PRE_VOTE', value: 'true' }]);
    const added = setBooleanFlag(container({ args: ['--pre-vote-x'] }), 'pre-vote', true);
    expect(added.container.env).toEqual([{ name: 'ETCD_PRE_VOTE', value: 'true' }]);
  });

  it('a variable set from a ConfigMap is replaced in place, not given a second entry', () => {
    const fromConfigMap = container({
      env: [
        {
          name: 'ETCD_INITIAL_CLUSTER_STATE',
          valueFrom: { configMapKeyRef: { name: 'etcd', key: 'state' } },
        },
      ],
    });
    const set = setFlag(fromConfigMap, 'initial-cluster-state', 'existing').container;
    expect(set.env).toEqual([{ name: 'ETCD_INITIAL_CLUSTER_STATE', value: 'existing' }]);
    expect(findFlag(set, 'initial-cluster-state')).toEqual([{ where: 'env', value: 'existing' }]);
    const bool = setBooleanFlag(
      container({
        env: [{ name: 'ETCD_PRE_VOTE', valueFrom: { configMapKeyRef: { name: 'e', key: 'p' } } }],
      }),
      'pre-vote',
      true,
    ).container;
    expect(bool.env).toEqual([{ name: 'ETCD_PRE_VOTE', value: 'true' }]);
  });
});
