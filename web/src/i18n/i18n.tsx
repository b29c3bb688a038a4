import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react'
import { en, type MessageKey } from './en.ts'
import { zh } from './zh.ts'

export type Language = 'en' | 'zh-CN'
export const LANGUAGES: ReadonlyArray<{ code: Language; label: string }> = [
  { code: 'en', label: 'English' },
  { code: 'zh-CN', label: '简体中文' },
]
const DICTIONARIES: Record<Language, Record<MessageKey, string>> = { en, 'zh-CN': zh }
// Only the language is remembered in the browser (never the admin key).
export const LANGUAGE_STORAGE_KEY = 'ccproxy.language'

export type Translate = (key: MessageKey, vars?: Record<string, string | number>) => string

export function translate(language: Language, key: MessageKey, vars?: Record<string, string | number>): string {
  const text = DICTIONARIES[language][key] ?? en[key]
  return vars ? text.replace(/\{(\w+)\}/g, (m, name: string) => (name in vars ? String(vars[name]) : m)) : text
}

function storedLanguage(): Language | undefined {
  try {
    const value = localStorage.getItem(LANGUAGE_STORAGE_KEY)
    return value === 'en' || value === 'zh-CN' ? value : undefined
  } catch {
    return undefined // storage blocked: follow the browser
  }
}

/** The remembered choice, else the browser's preference (Chinese → 简体中文), else English. */
export function initialLanguage(): Language {
  const stored = storedLanguage()
  if (stored) return stored
  const preferred = typeof navigator === 'undefined' ? [] : navigator.languages ?? [navigator.language]
  return preferred.some((l) => l?.toLowerCase().startsWith('zh')) ? 'zh-CN' : 'en'
}

interface I18n {
  language: Language
  setLanguage: (language: Language) => void
  t: Translate
  /** the language's locale for numbers and dates */
  locale: string
}

const I18nContext = createContext<I18n | null>(null)

export function I18nProvider({ children, language: fixed }: { children: ReactNode; language?: Language }) {
  const [language, setLanguageState] = useState<Language>(() => fixed ?? initialLanguage())
  const setLanguage = useCallback((next: Language) => {
    setLanguageState(next)
    try {
      localStorage.setItem(LANGUAGE_STORAGE_KEY, next)
    } catch {
      // not remembered when storage is blocked
    }
  }, [])
  useEffect(() => {
    document.documentElement.lang = language
  }, [language])
  const value = useMemo<I18n>(
    () => ({ language, setLanguage, t: (key, vars) => translate(language, key, vars), locale: language === 'zh-CN' ? 'zh-CN' : 'en-US' }),
    [language, setLanguage],
  )
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>
}

export function useI18n(): I18n {
  const value = useContext(I18nContext)
  if (!value) throw new Error('useI18n outside I18nProvider')
  return value
}
