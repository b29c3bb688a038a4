import { flexRender, getCoreRowModel, useReactTable, type ColumnDef, type SortingState } from '@tanstack/react-table'
import { useI18n } from '../i18n/i18n.tsx'

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
}

/**
 * A table whose rows come from the server, already filtered, sorted and paged: TanStack Table renders them
 * and owns the column model; sorting is a request to the server. Native table semantics; sortable headers are
 * buttons with aria-sort on their th.
 */
export function DataTable<T, C extends string>({ caption, columns, data, rowId, sortable = [], sort, onSort, activeRowId, onRowClick, busy }: Props<T, C>) {
  const { t } = useI18n()
  const sorting: SortingState = sort ? [{ id: sort.by, desc: sort.order === 'desc' }] : []
  const table = useReactTable({
    data,
    columns,
    getRowId: (row) => rowId(row),
    getCoreRowModel: getCoreRowModel(),
    manualSorting: true,
    manualPagination: true,
    state: { sorting },
  })
  return (
    <div className="table-wrap" aria-busy={busy || undefined}>
      <table className="table">
        <caption className="sr-only">{caption}</caption>
        <thead>
          {table.getHeaderGroups().map((group) => (
            <tr key={group.id}>
              {group.headers.map((header) => {
                const id = header.column.id as C
                const canSort = onSort !== undefined && sortable.includes(id)
                const active = sort?.by === id
                const label = flexRender(header.column.columnDef.header, header.getContext())
                const meta = header.column.columnDef.meta as { numeric?: boolean } | undefined
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
                const meta = cell.column.columnDef.meta as { numeric?: boolean } | undefined
                return (
                  <td key={cell.id} className={meta?.numeric ? 'num' : undefined}>
                    {flexRender(cell.column.columnDef.cell, cell.getContext())}
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
