// Package mosaictype holds the shapes of Mosaic's HTTP API: what the server sends and takes as
// JSON, as Go types. Both sides share them: the server (package api, and the store rows and
// service results behind it, which are these types under their own names) and the Go client
// (package api/client). It imports only the standard library and uuid, so that a program that
// talks to Mosaic over HTTP builds without PostgreSQL, NATS or the worker runtime, as River's
// rivertype does for River's rows.
//
// The OpenAPI description of the API (api/openapi.yaml) names these types in each schema's
// x-go-type, and api's tests hold the two together: a field renamed, added or dropped here fails
// them until the description says so too.
//
// The types that are store rows also carry db tags: the column each field is read from
// (pgx.RowToStructByName in package store). They are plain strings, inert for JSON, and import
// nothing.
package mosaictype
