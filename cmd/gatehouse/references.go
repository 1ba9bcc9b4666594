package main

import (
	"fmt"

	"gatehouse/datastore"
	"gatehouse/engine"
	"gatehouse/roles"
)

// hasFunction reports whether the engine's active scripts export module.name.
func hasFunction(e *engine.Engine) func(module, name string) bool {
	return func(module, name string) bool {
		_, ok := e.Function(module, name)
		return ok
	}
}

// danglingPermissions lists the permissions of pol that name a dataclass, attribute or
// function that does not exist: a misspelt name is a permission that protects nothing
// (e.g. "Users.pasword" leaves the password readable). hasFunction may be nil.
func danglingPermissions(pol *roles.Config, model *datastore.Model, hasFunction func(module, name string) bool) []string {
	var out []string
	for _, r := range pol.Resources() {
		var problem string
		switch r.Kind {
		case roles.DataClass:
			if model.DataClass(r.DataClass) == nil {
				problem = "no such dataclass in model.json"
			}
		case roles.Attribute:
			dc := model.DataClass(r.DataClass)
			if dc == nil {
				problem = "no such dataclass in model.json"
			} else if dc.Attribute(r.Member) == nil {
				problem = "no such attribute in model.json"
			}
		case roles.Method:
			module := r.DataClass
			if module == "" {
				module = "DataStore"
			} else if model.DataClass(module) == nil {
				problem = "no such dataclass in model.json"
				break
			}
			if hasFunction != nil && !hasFunction(module, r.Member) {
				problem = fmt.Sprintf("scripts/%s.js exports no function %q", module, r.Member)
			}
		}
		if problem != "" {
			out = append(out, fmt.Sprintf("roles.json: permission on %q (%s): %s", r.String(), r.Kind, problem))
		}
	}
	return out
}
