import { cleanup } from '@testing-library/react'
import { afterEach } from 'vitest'

// Only for the DOM tests (a file may opt into the node environment, like the bundle size check).
if (typeof window !== 'undefined') {
  // jsdom has no matchMedia: the app asks it for the colour scheme
  if (!window.matchMedia) {
    window.matchMedia = (query: string) =>
      ({ matches: false, media: query, onchange: null, addEventListener() {}, removeEventListener() {}, addListener() {}, removeListener() {}, dispatchEvent: () => false }) as MediaQueryList
  }
  afterEach(() => {
    cleanup()
    localStorage.clear()
  })
}
