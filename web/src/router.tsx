import { createRootRouteWithContext, createRoute, createRouter, lazyRouteComponent, Outlet, redirect, type AnyRouter, type RouterHistory } from '@tanstack/react-router'
import type { QueryClient } from '@tanstack/react-query'
import { ApiError } from './api/client.ts'
import { safeRedirect, sessionExpired, sessionQuery } from './api/session.ts'
import { Layout, RouteError } from './components/Layout.tsx'
import { NotFound } from './components/NotFound.tsx'
import { SignInPage } from './pages/SignIn.tsx'
import { validateConversationSearch, validateLogSearch, validateUsageSearch } from './lib/search.ts'

export interface RouterContext {
  queryClient: QueryClient
}

/** The page shown now, with its query (under /ui): where sign-in returns to. */
export const currentPage = (router: AnyRouter) => {
  const { pathname, searchStr } = router.state.location
  return `/ui${pathname === '/' ? '/' : pathname}${searchStr}`
}

const rootRoute = createRootRouteWithContext<RouterContext>()({
  component: Outlet,
  notFoundComponent: NotFound,
})

export type SignInReason = 'expired' | 'signed-out'

const signInRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: 'sign-in',
  validateSearch: (raw: Record<string, unknown>): { redirect?: string; reason?: SignInReason } => {
    const reason = raw.reason === 'expired' || raw.reason === 'signed-out' ? raw.reason : undefined
    const target = safeRedirect(raw.redirect)
    return { ...(target ? { redirect: target } : {}), ...(reason ? { reason } : {}) }
  },
  component: SignInPage,
})

// Every page but sign-in needs a session; without one the user signs in and comes back here.
const appRoute = createRoute({
  getParentRoute: () => rootRoute,
  id: 'app',
  beforeLoad: async ({ context, location }) => {
    try {
      await context.queryClient.ensureQueryData(sessionQuery)
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        throw redirect({ to: '/sign-in', search: { redirect: `/ui${location.pathname}${location.searchStr}`, ...(sessionExpired(error) ? { reason: 'expired' as const } : {}) } })
      }
      throw error
    }
  },
  component: Layout,
  errorComponent: RouteError,
})

const dashboardRoute = createRoute({ getParentRoute: () => appRoute, path: '/', component: lazyRouteComponent(() => import('./pages/Dashboard.tsx')) })
const tokensRoute = createRoute({ getParentRoute: () => appRoute, path: 'tokens', component: lazyRouteComponent(() => import('./pages/Tokens.tsx')) })
const tokenRoute = createRoute({ getParentRoute: () => appRoute, path: 'tokens/$tokenId', component: lazyRouteComponent(() => import('./pages/TokenDetail.tsx')) })
const conversationRoute = createRoute({
  getParentRoute: () => appRoute,
  path: 'conversations/$conversationId',
  component: lazyRouteComponent(() => import('./pages/ConversationDetail.tsx')),
})

const conversationsRoute = createRoute({
  getParentRoute: () => appRoute,
  path: 'conversations',
  validateSearch: validateConversationSearch,
  component: lazyRouteComponent(() => import('./pages/Conversations.tsx')),
})

// /requests/<id> is the log with that row's panel open; both share the filters in the query.
const requestsRoute = createRoute({
  getParentRoute: () => appRoute,
  path: 'requests',
  validateSearch: validateLogSearch,
  component: lazyRouteComponent(() => import('./pages/RequestLogs.tsx')),
})
const requestRoute = createRoute({
  getParentRoute: () => appRoute,
  path: 'requests/$requestId',
  validateSearch: validateLogSearch,
  component: lazyRouteComponent(() => import('./pages/RequestLogs.tsx')),
})

const usageRoute = createRoute({
  getParentRoute: () => appRoute,
  path: 'usage',
  validateSearch: validateUsageSearch,
  component: lazyRouteComponent(() => import('./pages/Usage.tsx')),
})

const routeTree = rootRoute.addChildren([
  signInRoute,
  appRoute.addChildren([dashboardRoute, tokensRoute, tokenRoute, conversationsRoute, conversationRoute, requestsRoute, requestRoute, usageRoute]),
])

export function createAppRouter(queryClient: QueryClient, history?: RouterHistory) {
  return createRouter({
    routeTree,
    ...(history ? { history } : {}),
    basepath: '/ui',
    context: { queryClient },
    defaultPreload: 'intent',
    scrollRestoration: true,
  })
}

declare module '@tanstack/react-router' {
  interface Register {
    router: ReturnType<typeof createAppRouter>
  }
}
