/**
 * Compiles every `contracts/*.sol` with solcjs (the `solc` npm package, standard JSON
 * input) and writes `contracts/out/<ContractName>.json` artifacts.
 *
 *   npm run build:contracts        # == tsx scripts/compile-contracts.ts [contractsDir]
 *
 * `compileContracts` is pure (reads sources, returns artifacts); only the CLI entry point
 * writes files. The artifacts are committed; `contracts/artifacts.test.ts` recompiles and
 * checks that they have not drifted from the sources.
 */
import { mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import solc from 'solc';
import type { Abi, Hex } from 'viem';

export interface CompiledContract {
  contractName: string;
  /** Source file name relative to the contracts directory, e.g. `MosaicToken.sol`. */
  sourceFile: string;
  abi: Abi;
  /** Creation (init) code, 0x-prefixed. */
  bytecode: Hex;
  /** Runtime code, 0x-prefixed. */
  deployedBytecode: Hex;
  /** Full solc version string, e.g. `0.8.37+commit.….Emscripten.clang`. */
  solcVersion: string;
}

export interface CompileOptions {
  /** Receives formatted solc warnings/infos. Defaults to `console.warn`. */
  onWarning?: (message: string) => void;
}

/** Compiler settings, fixed so artifacts are reproducible. */
export const SOLC_SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'cancun',
  outputSelection: {
    '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] },
  },
} as const;

interface SolcError {
  severity: 'error' | 'warning' | 'info';
  type: string;
  message: string;
  formattedMessage?: string;
}

interface SolcContractOutput {
  abi: Abi;
  evm: { bytecode: { object: string }; deployedBytecode: { object: string } };
}

interface SolcOutput {
  errors?: SolcError[];
  contracts?: Record<string, Record<string, SolcContractOutput>>;
}

/** Default contracts directory: `<repo>/contracts`. */
export const CONTRACTS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'contracts');

/**
 * Compiles all `*.sol` files directly in `dir`. Throws (listing every solc error) if
 * compilation fails; warnings are reported through `opts.onWarning` and are not fatal.
 * Returns artifacts sorted by contract name.
 */
export function compileContracts(dir: string, opts: CompileOptions = {}): CompiledContract[] {
  const onWarning = opts.onWarning ?? ((m: string) => console.warn(m));
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.sol'))
    .sort();
  if (files.length === 0) throw new Error(`compileContracts: no .sol files in ${dir}`);

  const sources: Record<string, { content: string }> = {};
  for (const f of files) sources[f] = { content: readFileSync(join(dir, f), 'utf8') };

  const input = { language: 'Solidity', sources, settings: SOLC_SETTINGS };
  const findImports = (path: string): { contents: string } | { error: string } => {
    try {
      return { contents: readFileSync(join(dir, path), 'utf8') };
    } catch {
      return { error: `File not found: ${path}` };
    }
  };
  const raw: unknown = solc.compile(JSON.stringify(input), { import: findImports });
  const output = JSON.parse(String(raw)) as SolcOutput;

  const problems = output.errors ?? [];
  const fmt = (e: SolcError): string => (e.formattedMessage ?? `${e.type}: ${e.message}`).trimEnd();
  const errors = problems.filter((e) => e.severity === 'error');
  for (const w of problems.filter((e) => e.severity !== 'error')) onWarning(fmt(w));
  if (errors.length > 0) {
    throw new Error(
      `solc ${solc.version()} failed with ${errors.length} error(s):\n\n` +
        errors.map(fmt).join('\n\n'),
    );
  }

  const solcVersion = String(solc.version());
  const result: CompiledContract[] = [];
  const seen = new Map<string, string>();
  for (const sourceFile of files) {
    const contracts = output.contracts?.[sourceFile] ?? {};
    for (const [contractName, c] of Object.entries(contracts)) {
      const prev = seen.get(contractName);
      if (prev !== undefined) {
        throw new Error(
          `compileContracts: contract name ${contractName} defined in both ${prev} and ${sourceFile}`,
        );
      }
      seen.set(contractName, sourceFile);
      result.push({
        contractName,
        sourceFile,
        abi: c.abi,
        bytecode: `0x${c.evm.bytecode.object}`,
        deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
        solcVersion,
      });
    }
  }
  return result.sort((a, b) => (a.contractName < b.contractName ? -1 : a.contractName > b.contractName ? 1 : 0));
}

/** Serializes an artifact exactly as written to disk (stable key order, trailing newline). */
export function serializeArtifact(c: CompiledContract): string {
  const ordered: CompiledContract = {
    contractName: c.contractName,
    sourceFile: c.sourceFile,
    abi: c.abi,
    bytecode: c.bytecode,
    deployedBytecode: c.deployedBytecode,
    solcVersion: c.solcVersion,
  };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

/**
 * Writes `<dir>/out/<ContractName>.json` for each artifact and removes stale `*.json`
 * files in `out/` that no longer correspond to a contract. Returns the written paths.
 */
export function writeArtifacts(dir: string, artifacts: readonly CompiledContract[]): string[] {
  const outDir = join(dir, 'out');
  mkdirSync(outDir, { recursive: true });
  const keep = new Set(artifacts.map((a) => `${a.contractName}.json`));
  for (const f of readdirSync(outDir)) {
    if (f.endsWith('.json') && !keep.has(f)) rmSync(join(outDir, f));
  }
  return artifacts.map((a) => {
    const path = join(outDir, `${a.contractName}.json`);
    writeFileSync(path, serializeArtifact(a));
    return path;
  });
}

function isMain(): boolean {
  const argv1 = process.argv[1];
  if (argv1 === undefined) return false;
  try {
    return realpathSync(argv1) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  const dir = resolve(process.argv[2] ?? CONTRACTS_DIR);
  const t0 = performance.now();
  try {
    const artifacts = compileContracts(dir);
    const ms = performance.now() - t0;
    const paths = writeArtifacts(dir, artifacts);
    console.log(
      `compiled ${artifacts.length} contract(s) with solc ${artifacts[0]?.solcVersion ?? '?'} in ${ms.toFixed(0)} ms`,
    );
    for (const p of paths) console.log(`  wrote ${p}`);
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  }
}
