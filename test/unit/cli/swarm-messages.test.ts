import { describe, expect, it } from 'vitest';
import { joinTokenText, joinedText, rotatedTokenText, swarmInitText } from '../../../src/cli/swarm-messages.js';

describe('swarm messages', () => {
  it('word swarm init like docker', () => {
    expect(swarmInitText('n1', 'vxmesh swarm join --token T 10.0.0.1:2377')).toBe(
      'Swarm initialized: current node (n1) is now a manager.\n\n' +
        'To add a worker to this swarm, run the following command:\n\n' +
        '    vxmesh swarm join --token T 10.0.0.1:2377\n\n' +
        "To add a manager to this swarm, run 'vxmesh swarm join-token manager' and follow the instructions.\n\n",
    );
  });

  it('word join-token like docker', () => {
    expect(rotatedTokenText('manager') + joinTokenText('manager', 'T', '10.0.0.1:2377')).toBe(
      'Successfully rotated manager join token.\n\n' +
        'To add a manager to this swarm, run the following command:\n\n' +
        '    vxmesh swarm join --token T 10.0.0.1:2377\n\n',
    );
    expect(joinedText('manager')).toBe('This node joined a swarm as a manager.\n');
  });
});
