import './lib/csp'
import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import App from './App.tsx'
import './index.css'
import { ssoErrorMessage } from './lib/account'
import { saveApiKey } from './lib/session'

// Single sign-on (/auth/oidc/callback) hands the new API key over in the URL fragment, which no request
// carries: keep it like a typed-in key, and take it out of the address bar and the history entry.
// A failed one comes back with only an error code, for the sign-in screen to explain.
const fragment = new URLSearchParams(window.location.hash.slice(1))
const signedIn = fragment.get('parlor-key')
const ssoError = fragment.get('parlor-sso-error')
if (signedIn) saveApiKey(signedIn)
if (signedIn || ssoError !== null) {
  window.history.replaceState(null, '', window.location.pathname + window.location.search)
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App ssoError={ssoError === null ? null : ssoErrorMessage(ssoError)} />
  </StrictMode>,
)
