// Package api is Mosaic's HTTP API (JSON over net/http's method-and-path patterns). Its request
// and answer types are package mosaictype's (the names here are aliases of them); the Go client,
// which the CLI uses, is package api/client.
//
// Authentication is a bearer token: a workspace API key (mosk_…) for /v1/workspaces/{ws}/…, whose
// role (OWNER, ADMIN, MEMBER, GUEST) decides what it may do; or the operator's admin token, which
// may create workspaces and act in any workspace. Errors are JSON:
//
//	{"error": {"code": "invalid_argument", "message": "priority must be between 1 and 10 (got 11)"}}
//
// openapi.yaml describes every route as OpenAPI 3.1 (OpenAPI returns it as JSON; GET
// /v1/openapi.json serves it); the package's tests hold the routes, their parameters and answers,
// mosaictype's types and the client's methods to it.
package api
