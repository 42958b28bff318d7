import './lib/csp'
import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import App from './App.tsx'
import './index.css'
import { saveApiKey } from './lib/api'

// Single sign-on (/auth/oidc/callback) hands the new API key over in the URL fragment, which no request
// carries: keep it like a typed-in key, and take it out of the address bar and the history entry.
const signedIn = new URLSearchParams(window.location.hash.slice(1)).get('parlor-key')
if (signedIn) {
  saveApiKey(signedIn)
  window.history.replaceState(null, '', window.location.pathname + window.location.search)
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
)
