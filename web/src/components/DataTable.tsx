import { flexRender, getCoreRowModel, useReactTable, type ColumnDef, type SortingState, type VisibilityState } from '@tanstack/react-table'
import { useI18n } from '../i18n/i18n.tsx'

/**
 * Column options: `numeric` aligns right; `clip` keeps the cell on one line, cut with an ellipsis and the whole
 * value in its title (model names and token names must not break mid-word in a narrow table).
 */
export interface ColumnMeta {
  numeric?: boolean
  clip?: boolean
}

export interface Sort<C extends string> {
  by: C
  order: 'asc' | 'desc'
}

interface Props<T, C extends string> {
  caption: string
  columns: ColumnDef<T, any>[]
  data: T[]
  rowId: (row: T) => string
  /** server-side sorting: the columns (by id) the API can sort, and the current sort */
  sortable?: readonly C[]
  sort?: Sort<C>
  onSort?: (sort: Sort<C>) => void
  activeRowId?: string
  onRowClick?: (row: T) => void
  busy?: boolean
  /** columns (by id) left out, e.g. while a detail panel takes half the width */
  hidden?: readonly string[]
  /** one line per row: cells do not wrap */
  nowrap?: boolean
}

/**
 * A table whose rows come from the server, already filtered, sorted and paged: TanStack Table renders them
 * and owns the column model; sorting is a request to the server. Native table semantics; sortable headers are
 * buttons with aria-sort on their th.
 */
export function DataTable<T, C extends string>({ caption, columns, data, rowId, sortable = [], sort, onSort, activeRowId, onRowClick, busy, hidden = [], nowrap }: Props<T, C>) {
  const { t } = useI18n()
  const sorting: SortingState = sort ? [{ id: sort.by, desc: sort.order === 'desc' }] : []
  const columnVisibility: VisibilityState = Object.fromEntries(hidden.map((id) => [id, false]))
  const table = useReactTable({
    data,
    columns,
    getRowId: (row) => rowId(row),
    getCoreRowModel: getCoreRowModel(),
    manualSorting: true,
    manualPagination: true,
    state: { sorting, columnVisibility },
  })
  return (
    <div className="table-wrap" aria-busy={busy || undefined}>
      <table className={nowrap ? 'table table-nowrap' : 'table'}>
        <caption className="sr-only">{caption}</caption>
        <thead>
          {table.getHeaderGroups().map((group) => (
            <tr key={group.id}>
              {group.headers.map((header) => {
                const id = header.column.id as C
                const canSort = onSort !== undefined && sortable.includes(id)
                const active = sort?.by === id
                const label = flexRender(header.column.columnDef.header, header.getContext())
                const meta = header.column.columnDef.meta as ColumnMeta | undefined
                return (
                  <th
                    key={header.id}
                    scope="col"
                    className={meta?.numeric ? 'num' : undefined}
                    aria-sort={canSort ? (active ? (sort!.order === 'asc' ? 'ascending' : 'descending') : 'none') : undefined}
                  >
                    {canSort ? (
                      <button
                        type="button"
                        className="sort-button"
                        onClick={() => onSort!({ by: id, order: active && sort!.order === 'desc' ? 'asc' : 'desc' })}
                      >
                        {label}
                        <span aria-hidden="true" className="sort-mark">
                          {active ? (sort!.order === 'asc' ? '▲' : '▼') : '↕'}
                        </span>
                      </button>
                    ) : (
                      label
                    )}
                  </th>
                )
              })}
            </tr>
          ))}
        </thead>
        <tbody>
          {table.getRowModel().rows.map((row) => (
            <tr
              key={row.id}
              data-row-id={row.id}
              className={onRowClick ? 'clickable' : undefined}
              aria-current={activeRowId === row.id ? 'true' : undefined}
              onClick={
                onRowClick
                  ? (e) => {
                      // links and buttons in the row do their own thing
                      if ((e.target as HTMLElement).closest('a, button, input, select')) return
                      onRowClick(row.original)
                    }
                  : undefined
              }
            >
              {row.getVisibleCells().map((cell) => {
                const meta = cell.column.columnDef.meta as ColumnMeta | undefined
                const content = flexRender(cell.column.columnDef.cell, cell.getContext())
                return (
                  <td key={cell.id} className={meta?.numeric ? 'num' : undefined}>
                    {meta?.clip ? (
                      <span className="clip" title={String(cell.getValue() ?? '')}>
                        {content}
                      </span>
                    ) : (
                      content
                    )}
                  </td>
                )
              })}
            </tr>
          ))}
        </tbody>
      </table>
      {busy && <span className="sr-only">{t('state.loading')}</span>}
    </div>
  )
}
