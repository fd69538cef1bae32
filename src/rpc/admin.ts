/**
 * `admin_*`: operator methods, only with `Authorization: Bearer $ADMIN_TOKEN` (`RpcContext.admin`).
 */
import { bigIntToHex } from '@ethereumjs/util'
import type { Config } from '../config/config.ts'
import type { MosaicNode } from '../node/node.ts'
import { RpcError, rpcErrorCodes } from './errors.ts'
import { requireWritable } from './eth.ts'
import type { Handler } from './methods.ts'

export type AdminDeps = {
  readonly sequencer: Pick<MosaicNode['sequencer'], 'seal'>
  readonly config: Pick<Config, 'mode' | 'sequencerRpcUrl'>
}

export function createAdminMethods({ sequencer, config }: AdminDeps): Record<string, Handler> {
  return {
    admin_sealBlock: async (_params, context) => {
      requireWritable(config)
      if (!context.admin) throw new RpcError(rpcErrorCodes.unauthorized, 'admin method: requires Authorization: Bearer <ADMIN_TOKEN>')
      const block = await sequencer.seal()
      return block === undefined ? null : bigIntToHex(block.block.header.number)
    },
  }
}
