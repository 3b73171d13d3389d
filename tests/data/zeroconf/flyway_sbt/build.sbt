name := "notes"
