env "local" {
  src = "file://schema.sql"
  url = "sqlite://app.db"
  migration {
    dir = "file://migrations"
  }
}
