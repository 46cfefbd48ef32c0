import { EXAMPLES } from '../../schemas/examples'

// The test-mode simulator's fixed QI key pairs. They guard nothing: the simulator moves no money and only
// ever answers test-mode requests through the SIMULATOR service binding. Published, like a provider's
// sandbox keys, so the gateway and the simulator agree without any secret to configure.

/** The QI client key pair the gateway signs simulator requests with (QI keeps the public half). */
export const SIMULATOR_QI_CLIENT_PRIVATE_KEY_PEM = `-----BEGIN PRIVATE KEY-----
MIHuAgEAMBAGByqGSM49AgEGBSuBBAAjBIHWMIHTAgEBBEIB+bkmrl8pEpbBiI8m
RW/zSyqbnPEztSH8gKQ9+vrPy14t2lP3TBggvr6EAHodAep4cnfRk/tTUDmtVKSZ
hW70GLyhgYkDgYYABAC7BGGMpI5mPaPl/jKq05pcrnjp9pXTBhRNTn5zYAJpNOdx
GnnYVofPOv9wwIwoIAE+Q91dhWhn4vZYIeGgHndpRgAU0IeaPDrARtjO3lzOckt8
1WxrmYxjT3/3thHOv7lPN9OAybO7cACsb5VA/e1pwZ4q52jJaWkB0aZOdWD21vH1
dQ==
-----END PRIVATE KEY-----`
export const SIMULATOR_QI_CLIENT_PUBLIC_KEY_PEM = `-----BEGIN PUBLIC KEY-----
MIGbMBAGByqGSM49AgEGBSuBBAAjA4GGAAQAuwRhjKSOZj2j5f4yqtOaXK546faV
0wYUTU5+c2ACaTTncRp52FaHzzr/cMCMKCABPkPdXYVoZ+L2WCHhoB53aUYAFNCH
mjw6wEbYzt5cznJLfNVsa5mMY09/97YRzr+5TzfTgMmzu3AArG+VQP3tacGeKudo
yWlpAdGmTnVg9tbx9XU=
-----END PUBLIC KEY-----`

/** The key pair the simulated QI signs its answers with (the gateway verifies with the public half). */
export const SIMULATOR_QI_PRIVATE_KEY_PEM = `-----BEGIN PRIVATE KEY-----
MIHuAgEAMBAGByqGSM49AgEGBSuBBAAjBIHWMIHTAgEBBEIBEuy843tgsDDlad9f
uHrSp14iyL7fLQYgcKPAHyhtCUYh8M7DUW646Djo5O7QLmZUJxt1Wjqd0pPJAM/N
0GYSC/OhgYkDgYYABAFIG9Al+Gezt9XzfxTLdq1X96OpztLU7/xZO9TiD5USTnCs
stofpor07r4FBD2YpV1wV35x8P/3B6pRdWh6x5TqawB8204xniWj9mjD0SMLM0yT
Pp6QDSeIrHnaRCrqvuFZioW2V1X8QvRZmRfMoDmwhpw6f3eNgelO7zk7YDPEH4wA
QA==
-----END PRIVATE KEY-----`
export const SIMULATOR_QI_PUBLIC_KEY_PEM = `-----BEGIN PUBLIC KEY-----
MIGbMBAGByqGSM49AgEGBSuBBAAjA4GGAAQBSBvQJfhns7fV838Uy3atV/ejqc7S
1O/8WTvU4g+VEk5wrLLaH6aK9O6+BQQ9mKVdcFd+cfD/9weqUXVoeseU6msAfNtO
MZ4lo/Zow9EjCzNMkz6ekA0niKx52kQq6r7hWYqFtldV/EL0WZkXzKA5sIacOn93
jYHpTu85O2AzxB+MAEA=
-----END PUBLIC KEY-----`

/** The sFOX enterprise key every simulated sFOX account answers to (the partner is named in a header). */
export const SIMULATOR_SFOX_API_KEY = 'simulator-sfox-enterprise-key'

/** Names the partner whose simulated provider a request is for (the binding is shared by every partner). */
export const SIMULATOR_PARTNER_HEADER = 'x-simulator-partner'

/**
 * The QI account key of a partner's simulated integration: the one in the API's own examples, so the
 * documented TED body works as is in test mode. Each partner's integration is its own (one row each).
 */
export const simulatorQiAccountKey = (_partnerId: string): string => EXAMPLES.createQi.qi.account_key
