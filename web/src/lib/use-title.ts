import { useEffect } from 'react'

/** The browser tab says which page this is (and screen readers announce it on navigation). */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · ccproxy` : 'ccproxy'
  }, [title])
}
