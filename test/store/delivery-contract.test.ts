import { engines } from '../support/stores.ts';
import { describeDeliveryStoreContract } from './delivery-contract.ts';

// One suite, both adapters (DESIGN invariant 7), beside the event store's contract.
for (const engine of engines) describeDeliveryStoreContract(engine);
