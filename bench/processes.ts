// Child processes and temp dirs of the bench: everything started here dies with the bench, and every temp
// dir is removed, whether the bench ends normally, throws, or is interrupted (Ctrl-C, SIGTERM).

import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface Child {
  name: string
  proc: ChildProcess
  /** stdout + stderr so far, for start-up parsing and error reports */
  output(): string
  /** SIGTERM to the whole process group, SIGKILL after `graceMs` */
  stop(graceMs?: number): Promise<void>
}

const children = new Set<Child>()
const tempDirs = new Set<string>()

/** Kills every child's process group at once (synchronous: usable from an 'exit' handler). */
function killAll(): void {
  for (const c of children) killGroup(c.proc, 'SIGKILL')
  children.clear()
}

function removeTempDirs(): void {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
  tempDirs.clear()
}

function killGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
  if (proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return
  try {
    // detached: the child leads its own process group, so its descendants (tsx's node, esbuild) go too
    process.kill(-proc.pid, signal)
  } catch {
    // already gone
  }
}

let hooked = false
/** Installs the exit, signal and crash handlers that kill children and remove temp dirs. */
export function cleanupOnExit(): void {
  if (hooked) return
  hooked = true
  process.on('exit', () => {
    killAll()
    removeTempDirs()
  })
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      console.error(`\nbench: ${signal}, stopping children`)
      process.exit(130)
    })
  }
  process.on('uncaughtException', (err) => {
    console.error('bench failed:', err)
    process.exit(1)
  })
  process.on('unhandledRejection', (err) => {
    console.error('bench failed:', err)
    process.exit(1)
  })
}

/** Stops every child gracefully (then by force) and removes the temp dirs. */
export async function cleanup(): Promise<void> {
  await Promise.all([...children].map((c) => c.stop()))
  removeTempDirs()
}

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  tempDirs.add(dir)
  return dir
}

/** A TCP port free right now on 127.0.0.1 (the OS picks it). */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

export function startChild(name: string, command: string, args: string[], env: NodeJS.ProcessEnv): Child {
  const proc = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true })
  let out = ''
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
  let stopped = false
  const child: Child = {
    name,
    proc,
    output: () => out,
    async stop(graceMs = 5000) {
      stopped = true
      killGroup(proc, 'SIGTERM')
      const timer = setTimeout(() => killGroup(proc, 'SIGKILL'), graceMs)
      await exited
      clearTimeout(timer)
      killGroup(proc, 'SIGKILL') // anything of the group still left
      children.delete(child)
    },
  }
  children.add(child)
  proc.once('exit', (code, signal) => {
    if (!stopped) console.error(`bench: ${name} exited early (code ${code}, signal ${signal})\n${out.slice(-2000)}`)
  })
  return child
}

/** Resolves with the first match of `re` in the child's output, or rejects after `timeoutMs`. */
export async function waitForOutput(child: Child, re: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const m = re.exec(child.output())
    if (m) return m
    if (child.proc.exitCode !== null) throw new Error(`${child.name} exited before it was ready:\n${child.output()}`)
    if (Date.now() > deadline) throw new Error(`${child.name}: no ${re} within ${timeoutMs} ms:\n${child.output()}`)
    await sleep(50)
  }
}

/** Polls `url` until it answers 200. */
export async function waitForHttp(child: Child, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (child.proc.exitCode !== null) throw new Error(`${child.name} exited before it was ready:\n${child.output()}`)
    try {
      const res = await fetch(url)
      if (res.ok) return
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${child.name}: ${url} not ready within ${timeoutMs} ms:\n${child.output()}`)
    await sleep(100)
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

// ── /proc ────────────────────────────────────────────────────────────────────────────────────────────────

function childPids(pid: number): number[] {
  try {
    const out: number[] = []
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim()
      if (text) out.push(...text.split(/\s+/).map(Number))
    }
    return out
  } catch {
    return []
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')
  } catch {
    return ''
  }
}

/**
 * The pid of the process that really runs `marker` under `rootPid`: tsx's CLI is a small wrapper that
 * spawns node with its loader, so the deepest process whose command line holds the marker.
 */
export function deepestProcess(rootPid: number, marker: string): number {
  let found = rootPid
  const walk = (pid: number) => {
    for (const c of childPids(pid)) {
      if (cmdline(c).includes(marker)) found = c
      walk(c)
    }
  }
  walk(rootPid)
  return found
}

/** VmHWM (peak resident set) and VmRSS of a process, in bytes. */
export function memoryOf(pid: number): { peakRss: number; rss: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
  return { peakRss: kb('VmHWM'), rss: kb('VmRSS') }
}
