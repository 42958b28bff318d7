// Client-side navigation: the address changes and the app (listening to popstate) shows the page.

export function navigate(path: string, replace = false): void {
  if (replace) window.history.replaceState(null, '', path)
  else window.history.pushState(null, '', path)
  window.dispatchEvent(new PopStateEvent('popstate'))
}

/** A plain left click on a link of ours navigates in place; others (new tab, …) are the browser's. */
export function onLinkClick(event: React.MouseEvent<HTMLAnchorElement>): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey)
    return
  event.preventDefault()
  navigate(event.currentTarget.getAttribute('href') ?? '/')
}
