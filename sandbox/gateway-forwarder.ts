/**
 * A TCP forwarder on a cluster's gateway address (the host side of its pod bridge) to a service
 * that listens on the host's loopback: how that cluster's pods and worker reach its API server
 * (like the `kubernetes` Service) or the Temporal server. The gateway addresses are local to the
 * host, so a namespace on the other cluster's bridge can open a connection to this one too; the
 * forwarder resets every connection that does not come from this cluster's pod subnet.
 */
import net from 'node:net';
import type { ClusterLayout } from './config.js';
import { gatewayOf } from './network.js';

export interface GatewayForwarder {
  address: string;
  port: number;
  close(): Promise<void>;
}

export function fromSubnet(subnet: string, remoteAddress: string): boolean {
  const [base, bits] = subnet.split('/');
  const list = new net.BlockList();
  list.addSubnet(base!, Number(bits), 'ipv4');
  const ip = remoteAddress.replace(/^::ffff:/, '');
  return net.isIPv4(ip) && list.check(ip, 'ipv4');
}

export async function forwardOnGateway(
  layout: ClusterLayout,
  port: number,
  to: { host: string; port: number },
): Promise<GatewayForwarder> {
  const address = gatewayOf(layout);
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (!fromSubnet(layout.podSubnet, client.remoteAddress ?? '')) {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(to);
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
    }
    // A reset on one side is passed on as a reset, so a client sees the server's failure.
    client.on('error', () => upstream.resetAndDestroy());
    upstream.on('error', () => client.resetAndDestroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve());
  });
  return {
    address,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of open) s.destroy();
      }),
  };
}
