import { createPostgresStore } from '../src/hub/store/postgres'
import { dropSchema, POSTGRES_URL, testSchema } from './helpers/postgres'
import { postgresMissingSync } from './helpers/services'
import { storeContract, type Backing } from './helpers/store-contract'

async function postgresBacking(): Promise<Backing> {
  const schema = testSchema()
  return { open: () => createPostgresStore(POSTGRES_URL, { schema, poolMax: 4 }), cleanup: () => dropSchema(schema) }
}

storeContract('postgres', postgresBacking, { skip: postgresMissingSync() })
