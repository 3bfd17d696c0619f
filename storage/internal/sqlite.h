// Thin RAII wrappers over the SQLite C API, private to storage/: a
// connection, a prepared statement, a transaction. Errors come back as
// absl::Status mapped from SQLite result codes (see SqliteStatus).
//
// Not thread-safe: Store serialises all use of one connection.
#ifndef SSLAB_STORAGE_INTERNAL_SQLITE_H_
#define SSLAB_STORAGE_INTERNAL_SQLITE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

struct sqlite3;
struct sqlite3_stmt;

namespace sslab::storage::internal {

// Maps a SQLite result code (extended codes on) to a status: BUSY/LOCKED ->
// UNAVAILABLE; foreign key / unique / primary key -> FAILED_PRECONDITION;
// CHECK / NOT NULL -> INVALID_ARGUMENT; CORRUPT / NOTADB -> DATA_LOSS;
// FULL -> RESOURCE_EXHAUSTED; anything else -> INTERNAL. The message is
// "<context>: <SQLite's message>"; constraints are named, so no SQL appears.
absl::Status SqliteStatus(int rc, absl::string_view message,
                          absl::string_view context);

class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Parameters are 1-based, as in SQLite.
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, int value) {
    return Bind(index, static_cast<int64_t>(value));
  }
  Statement& Bind(int index, double value);
  Statement& Bind(int index, bool value) {
    return Bind(index, static_cast<int64_t>(value ? 1 : 0));
  }
  Statement& Bind(int index, absl::string_view value);
  Statement& Bind(int index, const std::string& value) {
    return Bind(index, absl::string_view(value));
  }
  Statement& Bind(int index, const char* value) {
    return Bind(index, absl::string_view(value));
  }
  Statement& Bind(int index, absl::Time value);  // as Unix milliseconds
  Statement& BindNull(int index);
  template <typename T>
  Statement& Bind(int index, const std::optional<T>& value) {
    return value.has_value() ? Bind(index, *value) : BindNull(index);
  }

  // Advances to the next row: true when a row is available, false when done.
  absl::StatusOr<bool> Step();
  // Steps to completion, ignoring rows.
  absl::Status Run();
  // Rewinds the statement and clears its bindings for reuse.
  void Reset();

  // Columns are 0-based, as in SQLite.
  bool IsNull(int column) const;
  int64_t Int(int column) const;
  double Double(int column) const;
  std::string Text(int column) const;
  absl::Time Time(int column) const;
  std::optional<int64_t> OptionalInt(int column) const;
  std::optional<absl::Time> OptionalTime(int column) const;

 private:
  friend class Database;
  Statement(sqlite3* db, sqlite3_stmt* stmt, bool* in_use = nullptr)
      : db_(db), stmt_(stmt), in_use_(in_use) {}
  void NoteBind(int rc);
  // Finalises an owned statement; resets and returns a cached one.
  void Release();

  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  // Set when the statement is borrowed from its Database's cache.
  bool* in_use_ = nullptr;
  int bind_rc_ = 0;  // first failing bind, reported by Step()
};

class Database {
 public:
  // Opens (creating if missing) the file at `path` read-write with extended
  // result codes on.
  static absl::StatusOr<Database> Open(const std::string& path);

  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  // Prepares one statement of fixed SQL text; values go in through Bind.
  // Each text is compiled once per connection: later calls borrow the
  // cached statement (reset, bindings cleared), or compile a second one
  // while the first is still in use.
  absl::StatusOr<Statement> Prepare(absl::string_view sql);
  // Runs fixed SQL text that may hold several statements (DDL, pragmas).
  absl::Status Exec(const char* sql);
  int64_t LastInsertRowId() const;
  // Rows changed by the last INSERT/UPDATE/DELETE.
  int Changes() const;
  const std::string& path() const { return path_; }

  // Copies the whole database, as of one read transaction, into the file
  // `to` (created or replaced), with SQLite's online backup API: writers on
  // other connections go on meanwhile (WAL).
  absl::Status BackupTo(const std::string& to);

 private:
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  void FinalizeCache();

  struct Cached {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  sqlite3* db_ = nullptr;
  std::string path_;
  // By SQL text; entries are pointers so borrowers' flags stay put.
  std::unordered_map<std::string, std::unique_ptr<Cached>> cache_;
};

// BEGIN IMMEDIATE on construction (through Begin); rolls back on destruction
// unless Commit() succeeded.
class Transaction {
 public:
  static absl::StatusOr<Transaction> Begin(Database* db);
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();
  absl::Status Commit();

 private:
  explicit Transaction(Database* db) : db_(db) {}
  Database* db_;
  bool open_ = true;
};

}  // namespace sslab::storage::internal

#endif  // SSLAB_STORAGE_INTERNAL_SQLITE_H_
