/** Prints the README's table of lies the verifier catches, from `test/verifier/lies.ts`. */
import { liesTable } from '../test/verifier/lies.ts'

console.log(liesTable())
