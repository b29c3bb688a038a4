import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { RouterProvider, type RouterHistory } from '@tanstack/react-router'
import { ApiError, onUnauthorized } from './api/client.ts'
import { sessionExpired } from './api/session.ts'
import { I18nProvider } from './i18n/i18n.tsx'
import { createAppRouter, currentPage } from './router.tsx'

export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 15_000,
        // a 4xx will not get better by asking again; a network blip might
        retry: (count, error) => count < 2 && !(error instanceof ApiError && error.status >= 400 && error.status < 500),
        refetchOnWindowFocus: false,
      },
    },
  })
}

/** The app: data cache, router and language; a 401 from any call sends the user to sign-in and back. */
export function createApp(options: { history?: RouterHistory } = {}) {
  const queryClient = createQueryClient()
  const router = createAppRouter(queryClient, options.history)
  // The session ended (expired, signed out elsewhere, gateway restarted): sign in, then come back here.
  const stop = onUnauthorized((error) => {
    if (router.state.location.pathname.endsWith('/sign-in')) return
    queryClient.removeQueries({ queryKey: ['session'] })
    void router.navigate({
      to: '/sign-in',
      search: { redirect: currentPage(router), ...(sessionExpired(error) ? { reason: 'expired' as const } : {}) },
    })
  })
  function App() {
    return (
      <I18nProvider>
        <QueryClientProvider client={queryClient}>
          <RouterProvider router={router} />
        </QueryClientProvider>
      </I18nProvider>
    )
  }
  return { App, router, queryClient, stop }
}
