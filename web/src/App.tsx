import { lazy, Suspense } from 'react'
import SignIn from './components/SignIn'
import Workspace from './components/Workspace'
import { sharedTokenFromPath } from './lib/router'
import { ApiKeyContext, useSession } from './lib/session'

const SharedChat = lazy(() => import('./components/SharedChat'))

/** A shared chat's address opens it for anyone (no sign-in); any other goes through the session. */
export default function App({ ssoError = null }: { ssoError?: string | null }) {
  const shared = sharedTokenFromPath(window.location.pathname)
  if (shared) {
    return (
      <Suspense fallback={<p className="p-6 text-sm text-muted" role="status">Loading…</p>}>
        <SharedChat token={shared} />
      </Suspense>
    )
  }
  return <Session ssoError={ssoError} />
}

/**
 * Who is signed in decides the screen: sign-in, or the workspace (whose page the address decides).
 * ssoError: why the single sign-on this page came back from failed, shown on the sign-in screen.
 */
function Session({ ssoError }: { ssoError: string | null }) {
  const { session, sso, signIn, signOut } = useSession(ssoError)
  switch (session.state) {
    case 'loading':
      return (
        <p className="p-6 text-sm text-muted" role="status">
          Loading…
        </p>
      )
    case 'failed':
      return (
        <p role="alert" className="p-6 text-sm text-danger">
          Could not reach the server: {session.message}
        </p>
      )
    case 'signed-out':
      return <SignIn onSubmit={signIn} initialError={session.message} sso={sso} />
    case 'signed-in':
      return (
        <ApiKeyContext.Provider value={session.apiKey}>
          {/* Without auth (no key) there is nothing to sign out of. */}
          <Workspace me={session.me} apiKey={session.apiKey} onSignOut={session.apiKey ? () => signOut() : null}
            onSignedOut={signOut} />
        </ApiKeyContext.Provider>
      )
  }
}
