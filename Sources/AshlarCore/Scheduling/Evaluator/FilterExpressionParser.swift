import Foundation

extension FilterExpression {
    /// Parses a filter or goodness function; the whole text must be one expression.
    public init(parsing text: String) throws(EvaluatorError) {
        var parser = FilterExpressionParser(tokens: try FilterExpressionParser.tokenize(text))
        let expression = try parser.parseOr()
        guard parser.peek.kind == .end else {
            throw EvaluatorError("unexpected \(parser.peek.describe) at position \(parser.peek.offset + 1)")
        }
        self = expression
    }
}

/// A recursive-descent parser for `FilterExpression`, one method per precedence level.
struct FilterExpressionParser {
    enum Kind: Equatable {
        case number, string, word, symbol, end
    }

    struct Token {
        var kind: Kind
        var text: String
        /// Character offset in the function text.
        var offset: Int

        var describe: String {
            switch kind {
            case .end: "end of expression"
            case .string: "string '\(text)'"
            default: "'\(text)'"
            }
        }
    }

    static let symbols = [
        "<=", ">=", "==", "!=", "<>", "&&", "||", "<", ">", "+", "-", "*", "/", "^", "!", "?", ":",
        "(", ")", ",",
    ]

    static func tokenize(_ text: String) throws(EvaluatorError) -> [Token] {
        let chars = Array(text)
        var tokens: [Token] = []
        var i = 0
        func isWordStart(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c == "_") }
        func isWordPart(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c.isNumber || c == "_" || c == ".") }
        while i < chars.count {
            let c = chars[i]
            if c.isWhitespace {
                i += 1
                continue
            }
            let start = i
            if c.isASCII && c.isNumber {
                while i < chars.count, chars[i].isASCII, chars[i].isNumber { i += 1 }
                if i + 1 < chars.count, chars[i] == ".", chars[i + 1].isASCII, chars[i + 1].isNumber {
                    i += 1
                    while i < chars.count, chars[i].isASCII, chars[i].isNumber { i += 1 }
                }
                tokens.append(Token(kind: .number, text: String(chars[start..<i]), offset: start))
            } else if isWordStart(c) {
                while i < chars.count, isWordPart(chars[i]) { i += 1 }
                tokens.append(Token(kind: .word, text: String(chars[start..<i]), offset: start))
            } else if c == "'" || c == "\"" {
                i += 1
                var value = ""
                var closed = false
                while i < chars.count {
                    if chars[i] == "\\", i + 1 < chars.count {
                        value.append(chars[i + 1])
                        i += 2
                    } else if chars[i] == c {
                        i += 1
                        closed = true
                        break
                    } else {
                        value.append(chars[i])
                        i += 1
                    }
                }
                guard closed else { throw EvaluatorError("unterminated string at position \(start + 1)") }
                tokens.append(Token(kind: .string, text: value, offset: start))
            } else if let symbol = symbols.first(where: { s in
                s.count <= chars.count - i && String(chars[i..<(i + s.count)]) == s
            }) {
                i += symbol.count
                tokens.append(Token(kind: .symbol, text: symbol, offset: start))
            } else {
                throw EvaluatorError("unexpected character '\(c)' at position \(start + 1)")
            }
        }
        tokens.append(Token(kind: .end, text: "", offset: chars.count))
        return tokens
    }

    var tokens: [Token]
    var position = 0

    init(tokens: [Token]) { self.tokens = tokens }

    var peek: Token { tokens[position] }

    mutating func advance() -> Token {
        let token = tokens[position]
        if token.kind != .end { position += 1 }
        return token
    }

    /// Consumes the next token when it is one of `texts` (a symbol, or a keyword word).
    mutating func accept(_ texts: Set<String>) -> String? {
        let token = peek
        guard token.kind == .symbol || token.kind == .word, texts.contains(token.text) else { return nil }
        position += 1
        return token.text
    }

    mutating func expect(_ text: String) throws(EvaluatorError) {
        guard accept([text]) != nil else {
            throw EvaluatorError("expected '\(text)' but found \(peek.describe) at position \(peek.offset + 1)")
        }
    }

    static let orOperators: Set<String> = ["or", "OR", "||"]
    static let andOperators: Set<String> = ["and", "AND", "&&"]
    static let notOperators: Set<String> = ["not", "NOT", "!"]
    static let keywords = orOperators.union(andOperators).union(notOperators)

    mutating func parseOr() throws(EvaluatorError) -> FilterExpression {
        var operands = [try parseAnd()]
        while accept(Self.orOperators) != nil { operands.append(try parseAnd()) }
        return operands.count == 1 ? operands[0] : .or(operands)
    }

    mutating func parseAnd() throws(EvaluatorError) -> FilterExpression {
        var operands = [try parseTernary()]
        while accept(Self.andOperators) != nil { operands.append(try parseTernary()) }
        return operands.count == 1 ? operands[0] : .and(operands)
    }

    /// `c ? a : b`, left-associative as upstream: `a ? b : c ? d : e` is `(a ? b : c) ? d : e`.
    mutating func parseTernary() throws(EvaluatorError) -> FilterExpression {
        var expression = try parseComparison()
        while accept(["?"]) != nil {
            let then = try parseComparison()
            try expect(":")
            let otherwise = try parseComparison()
            expression = .ternary(expression, then, otherwise)
        }
        return expression
    }

    mutating func parseComparison() throws(EvaluatorError) -> FilterExpression {
        let first = try parseNot()
        var steps: [FilterExpression.ComparisonStep] = []
        while peek.kind == .symbol, let op = FilterExpression.ComparisonOperator(rawValue: peek.text) {
            position += 1
            steps.append(.init(op, try parseNot()))
        }
        return steps.isEmpty ? first : .comparison(first, steps)
    }

    mutating func parseNot() throws(EvaluatorError) -> FilterExpression {
        if accept(Self.notOperators) != nil { return .unary(.not, try parseNot()) }
        return try parseAdditive()
    }

    mutating func parseAdditive() throws(EvaluatorError) -> FilterExpression {
        var expression = try parseMultiplicative()
        while let op = accept(["+", "-"]) {
            expression = .binary(op == "+" ? .add : .subtract, expression, try parseMultiplicative())
        }
        return expression
    }

    mutating func parseMultiplicative() throws(EvaluatorError) -> FilterExpression {
        var expression = try parseSign()
        while let op = accept(["*", "/"]) {
            expression = .binary(op == "*" ? .multiply : .divide, expression, try parseSign())
        }
        return expression
    }

    /// Unary `+`/`-` bind looser than `^`: `-2 ^ 2` is `-(2 ^ 2)`.
    mutating func parseSign() throws(EvaluatorError) -> FilterExpression {
        if let op = accept(["+", "-"]) { return .unary(op == "+" ? .plus : .minus, try parseSign()) }
        return try parsePower()
    }

    /// Right-associative: `2 ^ 3 ^ 2` is `2 ^ 9`. The exponent may carry a sign: `2 ^ -1`.
    mutating func parsePower() throws(EvaluatorError) -> FilterExpression {
        let base = try parsePrimary()
        if accept(["^"]) != nil { return .binary(.power, base, try parseSign()) }
        return base
    }

    mutating func parsePrimary() throws(EvaluatorError) -> FilterExpression {
        let token = advance()
        switch token.kind {
        case .number, .string:
            return .constant(FilterValue.constant(token.text))
        case .word:
            if let function = FilterExpression.Function(rawValue: token.text), accept(["("]) != nil {
                var arguments = [try parseOr()]
                while accept([","]) != nil { arguments.append(try parseOr()) }
                try expect(")")
                return .call(function, arguments)
            }
            if Self.keywords.contains(token.text) {
                throw EvaluatorError("unexpected '\(token.text)' at position \(token.offset + 1)")
            }
            if let dot = token.text.firstIndex(of: ".") {
                let scope = String(token.text[..<dot])
                let key = String(token.text[token.text.index(after: dot)...])
                guard !key.isEmpty else {
                    throw EvaluatorError("'\(token.text)' is not a variable at position \(token.offset + 1)")
                }
                return .variable(scope: scope, key: key)
            }
            // A bare word is its own text, as upstream (`stats.storage_protocol == iSCSI`).
            return .constant(FilterValue.constant(token.text))
        case .symbol where token.text == "(":
            let inner = try parseOr()
            try expect(")")
            return inner
        default:
            throw EvaluatorError("unexpected \(token.describe) at position \(token.offset + 1)")
        }
    }
}
