// The server's Content-Security-Policy forbids eval (script-src 'self'): zod must not probe for it, or
// its probe (`Function('')`, for a faster parser) is reported as a policy violation. Imported first.
import { z } from 'zod'

z.config({ jitless: true })
