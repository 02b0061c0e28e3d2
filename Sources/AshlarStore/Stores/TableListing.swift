import AshlarCore
import Foundation
import SQLKit

/// How one table is listed through the API: which fields may be filtered and sorted on, and the SQL that pages
/// through it. Shared by the stores of every listable resource, so filters, sort keys and markers behave alike.
struct TableListing: Sendable {
    /// The table's name.
    let table: String
    /// API field → column.
    let columns: [String: String]
    /// Columns that may hold NULL text; compared through COALESCE so that ordering and markers are total.
    let nullableText: Set<String>

    /// One page of rows for `query` from `select` (which names the columns and the table), decoded. Throws
    /// `.notFound` when the marker is not a row `markerExists` accepts (one the caller may see).
    func page<Row>(
        _ select: SQLSelectBuilder, _ query: ListQuery, markerExists: (String) async throws -> Bool,
        decode: (any SQLRow) throws -> Row
    ) async throws -> [Row] {
        try applyFilters(query, to: select)
        if let marker = query.marker, try await !markerExists(marker) {
            throw AshlarError(.notFound, "Marker \(marker) could not be found.")
        }
        try applyPage(query, to: select)
        return try await select.all().map(decode)
    }

    /// How many rows match the query's filters (pagination ignored).
    func count(on db: any SQLDatabase, _ query: ListQuery) async throws -> Int {
        let select = db.select().column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from(table)
        try applyFilters(query, to: select)
        return try await select.first()?.decode(column: "n", as: Int.self) ?? 0
    }

    /// Inserts one row of `columns` = `values` if, in the same statement, every one of `conditions` holds;
    /// returns whether it did.
    func insert(
        on db: any SQLDatabase, columns: [String], values: [any SQLExpression], requiring conditions: [Requirement]
    ) async throws -> Bool {
        let rows = try await db.insert(into: table).columns(columns)
            .select { select in
                var select = select.columns(values)
                for condition in conditions { select = select.where(condition.sql) }
                return select
            }
            .returning("id").all()
        return !rows.isEmpty
    }

    /// Adds the query's project, field filters and metadata filters to `builder`.
    func applyFilters(_ query: ListQuery, to builder: some SQLPredicateBuilder) throws {
        if let project = query.projectID { builder.where("project_id", .equal, project) }
        for condition in query.conditions {
            guard let column = columns[condition.field] else {
                throw AshlarError.invalidInput("Invalid filter key \(condition.field)")
            }
            builder.where(try Self.predicate(column: column, condition.op, condition.value))
        }
        for (key, value) in query.metadata.sorted(by: { $0.key < $1.key }) {
            builder.where(Dialectual.JSONText(column: "metadata", key: key), .equal, SQLBind(value))
        }
    }

    /// Adds the query's order (with `created_at`, `id` as tie-breakers), the rows after its marker, and its
    /// limit and offset to `select`. The marker must exist (the caller checks, to give the right 404).
    func applyPage(_ query: ListQuery, to select: SQLSelectBuilder) throws {
        var sort = query.sort
        for tie in ["created_at", "id"] where !sort.contains(where: { columns[$0.field] == tie }) {
            sort.append(ListQuery.SortKey(tie, ascending: sort.last?.ascending ?? false))
        }
        var keys: [(column: String, ascending: Bool)] = []
        for key in sort {
            guard let column = columns[key.field] else { throw AshlarError.invalidInput("Invalid sort key \(key.field)") }
            keys.append((column, key.ascending))
        }
        if let marker = query.marker { select.where(keysetPredicate(after: marker, keys: keys)) }
        for key in keys {
            // Ordered by the same NULL-folded expression the marker compares with, so pages never skip rows.
            select.orderBy(sortExpression(key.column), key.ascending ? SQLDirection.ascending : .descending)
        }
        if let limit = query.limit { select.limit(limit) }
        if let offset = query.offset, offset > 0 {
            if query.limit == nil { select.limit(Int(Int32.max)) }
            select.offset(offset)
        }
    }

    /// Rows strictly after the marker row in sort order: (k1 > m1) OR (k1 = m1 AND k2 > m2) OR …, where each
    /// marker value is read by a subquery, so no model needs to know how its fields map back to columns.
    private func keysetPredicate(after marker: String, keys: [(column: String, ascending: Bool)]) -> any SQLExpression {
        var alternatives: [any SQLExpression] = []
        var equalities: [any SQLExpression] = []
        for key in keys {
            let lhs = sortExpression(key.column)
            let rhs = SQLSubquery.select { sub in
                sub.column(sortExpression(key.column)).from(table).where("id", .equal, marker)
            }
            let step = SQLBinaryExpression(lhs, key.ascending ? .greaterThan : .lessThan, rhs)
            alternatives.append(SQLGroupExpression(SQLList(equalities + [step], separator: SQLRaw(" AND "))))
            equalities.append(SQLBinaryExpression(lhs, .equal, rhs))
        }
        return SQLGroupExpression(SQLList(alternatives, separator: SQLRaw(" OR ")))
    }

    /// The column with NULL folded to `''` or 0.
    func sortExpression(_ column: String) -> any SQLExpression {
        if nullableText.contains(column) {
            return SQLFunction("COALESCE", args: SQLIdentifier(column), SQLLiteral.string(""))
        } else if column == "updated_at" {
            return SQLFunction("COALESCE", args: SQLIdentifier(column), SQLLiteral.numeric("0"))
        }
        return SQLIdentifier(column)
    }

    static func predicate(column: String, _ op: ListQuery.Operator, _ value: ListQuery.Value) throws -> any SQLExpression {
        let bind: any SQLExpression
        switch value {
        case .string(let s): bind = SQLBind(s)
        case .int(let i): bind = SQLBind(i)
        case .bool(let b): bind = SQLBind(b)
        case .date(let d): bind = SQLBind(d.stored)
        case .null:
            return SQLBinaryExpression(
                SQLIdentifier(column), op == .neq ? SQLBinaryOperator.isNot : .is, SQLLiteral.null)
        }
        let sqlOp: SQLBinaryOperator
        switch op {
        case .eq: sqlOp = .equal
        case .neq: sqlOp = .notEqual
        case .gt: sqlOp = .greaterThan
        case .gte: sqlOp = .greaterThanOrEqual
        case .lt: sqlOp = .lessThan
        case .lte: sqlOp = .lessThanOrEqual
        case .like:
            guard case .string(let s) = value else { throw AshlarError.invalidInput("\(column)~ needs a text value") }
            return Dialectual.Contains(column: column, text: s)
        }
        return SQLBinaryExpression(SQLIdentifier(column), sqlOp, bind)
    }
}
