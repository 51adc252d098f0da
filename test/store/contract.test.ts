import { engines } from '../support/stores.ts';
import { describeStoreContract } from './contract.ts';

// One suite, both adapters (DESIGN invariant 7): nothing above the port may tell them apart.
for (const engine of engines) describeStoreContract(engine);
