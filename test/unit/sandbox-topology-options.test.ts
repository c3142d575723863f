import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { KIND_TOPOLOGY, TWO_CLOUDS_TOPOLOGY } from '../../sandbox/topology.js';
import {
  addTopologyOptions,
  topologyFromOptions,
  type TopologyOptions,
} from '../../sandbox/topology-options.js';

function parse(args: string[]): TopologyOptions {
  const cmd = addTopologyOptions(new Command('t').exitOverride().configureOutput({ writeErr: () => {} }));
  cmd.parse(args, { from: 'user' });
  return cmd.opts<TopologyOptions>();
}

describe('sandbox topology options', () => {
  it('changes only what is given', () => {
    const t = topologyFromOptions(
      KIND_TOPOLOGY,
      parse(['--rtt-ms', '20', '--bandwidth-mbit', '100', '--dns-delay-s', '30', '--lb-hostnames', 'target']),
    );
    expect(t).toEqual({
      link: { rttMs: 20, jitterMs: 0, lossPercent: 0, bandwidthMbit: 100 },
      dnsDelayS: 30,
      lbAddressKind: { source: 'ip', target: 'hostname' },
    });
    expect(KIND_TOPOLOGY.link.rttMs).toBe(0);
  });

  it('starts from a preset and turns hostnames off with none', () => {
    const t = topologyFromOptions(KIND_TOPOLOGY, parse(['--preset', 'two-clouds', '--lb-hostnames', 'none']));
    expect(t.link).toEqual(TWO_CLOUDS_TOPOLOGY.link);
    expect(t.lbAddressKind).toEqual({ source: 'ip', target: 'ip' });
  });

  it('refuses negative numbers, loss above 100 %, unknown clusters and presets', () => {
    expect(() => parse(['--rtt-ms', '-1'])).toThrow(/number >= 0/);
    expect(() => parse(['--loss-percent', '101'])).toThrow(/0 to 100/);
    expect(() => parse(['--lb-hostnames', 'source,elsewhere'])).toThrow(/elsewhere/);
    expect(() => parse(['--preset', 'three-clouds'])).toThrow(/kind, two-clouds/);
  });
});
