import ArgumentParser
import Foundation

/// Reads configuration with `body`; on failure prints the error as every command does and exits with status 2.
func readingConfiguration<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch {
        FileHandle.standardError.write(Data("ashlar: configuration error: \(error)\n".utf8))
        throw ExitCode(2)
    }
}
