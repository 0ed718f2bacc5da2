// The OpenAPI 3.0 description of lvsd's read-only API, served at /api/v1/openapi.json.

/// The API's OpenAPI document (checked by `openapi-spec-validator` in the tests).
public enum OpenAPIDocument {
    public static let json: String = #"""
        {
          "openapi": "3.0.3",
          "info": {
            "title": "lvsd status API",
            "version": "1.0.0",
            "description": "Read-only view of a SwiftLVS director: the IPVS table (as ipvsadm -Ln --stats/--rate shows it), VRRP instances, health checkers and the data plane. Only GET and HEAD are served; any other method gets 405."
          },
          "paths": {
            "/api/v1/status": {
              "get": {
                "summary": "Summary: counts, totals, data-plane mode, VRRP states",
                "operationId": "getStatus",
                "responses": {
                  "200": {"description": "The summary", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Status"}}}}
                }
              }
            },
            "/api/v1/services": {
              "get": {
                "summary": "Virtual services with their real servers, in ipvsadm's order",
                "operationId": "listServices",
                "parameters": [
                  {"name": "offset", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 0, "default": 0}},
                  {"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 0, "maximum": 100000, "default": 100000}}
                ],
                "responses": {
                  "200": {"description": "A page of services", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ServicePage"}}}},
                  "400": {"description": "A malformed query", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
              }
            },
            "/api/v1/vrrp": {
              "get": {
                "summary": "VRRP instances",
                "operationId": "listVRRPInstances",
                "responses": {
                  "200": {"description": "The instances", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/VRRPInstances"}}}}
                }
              }
            },
            "/api/v1/checkers": {
              "get": {
                "summary": "Health checkers by real server",
                "operationId": "listCheckers",
                "responses": {
                  "200": {"description": "The checkers", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Checkers"}}}}
                }
              }
            },
            "/api/v1/dataplane": {
              "get": {
                "summary": "The packet path: mode, interfaces, packets and drops per worker",
                "operationId": "getDataPlane",
                "responses": {
                  "200": {"description": "The data plane", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DataPlane"}}}}
                }
              }
            },
            "/api/v1/openapi.json": {
              "get": {
                "summary": "This document",
                "operationId": "getOpenAPI",
                "responses": {
                  "200": {"description": "The OpenAPI document", "content": {"application/json": {"schema": {"type": "object"}}}}
                }
              }
            }
          },
          "components": {
            "schemas": {
              "Counters": {
                "type": "object",
                "description": "ipvsadm -Ln --stats: connections, packets and bytes in (client to server) and out (server to client, NAT only).",
                "required": ["connections", "inPackets", "outPackets", "inBytes", "outBytes"],
                "properties": {
                  "connections": {"type": "integer", "format": "int64", "minimum": 0},
                  "inPackets": {"type": "integer", "format": "int64", "minimum": 0},
                  "outPackets": {"type": "integer", "format": "int64", "minimum": 0},
                  "inBytes": {"type": "integer", "format": "int64", "minimum": 0},
                  "outBytes": {"type": "integer", "format": "int64", "minimum": 0}
                }
              },
              "Rates": {
                "type": "object",
                "description": "ipvsadm -Ln --rate: the kernel's rate estimator, per second.",
                "required": ["cps", "inPPS", "outPPS", "inBPS", "outBPS"],
                "properties": {
                  "cps": {"type": "integer", "format": "int64", "minimum": 0},
                  "inPPS": {"type": "integer", "format": "int64", "minimum": 0},
                  "outPPS": {"type": "integer", "format": "int64", "minimum": 0},
                  "inBPS": {"type": "integer", "format": "int64", "minimum": 0},
                  "outBPS": {"type": "integer", "format": "int64", "minimum": 0}
                }
              },
              "Status": {
                "type": "object",
                "required": ["version", "pid", "uptimeSeconds", "services", "realServers", "connections", "connectionLimit", "totals", "rates", "dataPlane", "vrrp"],
                "properties": {
                  "version": {"type": "string"},
                  "pid": {"type": "integer"},
                  "uptimeSeconds": {"type": "number", "minimum": 0},
                  "services": {"type": "integer", "minimum": 0},
                  "realServers": {"type": "integer", "minimum": 0},
                  "connections": {"type": "integer", "minimum": 0, "description": "Entries in the connection table (ipvsadm -Lnc), templates included."},
                  "connectionLimit": {"type": "integer", "minimum": 0},
                  "totals": {"$ref": "#/components/schemas/Counters"},
                  "rates": {"$ref": "#/components/schemas/Rates"},
                  "dataPlane": {
                    "type": "object",
                    "nullable": true,
                    "required": ["mode", "drops"],
                    "properties": {
                      "mode": {"type": "string", "enum": ["af_packet", "xdp"]},
                      "drops": {"type": "integer", "format": "int64", "minimum": 0}
                    }
                  },
                  "vrrp": {
                    "type": "array",
                    "items": {
                      "type": "object",
                      "required": ["name", "state"],
                      "properties": {"name": {"type": "string"}, "state": {"$ref": "#/components/schemas/VRRPState"}}
                    }
                  }
                }
              },
              "ServicePage": {
                "type": "object",
                "required": ["total", "offset", "limit", "services"],
                "properties": {
                  "total": {"type": "integer", "minimum": 0},
                  "offset": {"type": "integer", "minimum": 0},
                  "limit": {"type": "integer", "minimum": 0},
                  "services": {"type": "array", "items": {"$ref": "#/components/schemas/Service"}}
                }
              },
              "Service": {
                "type": "object",
                "required": ["key", "protocol", "address", "port", "fwmark", "scheduler", "persistent", "persistenceTimeout", "counters", "rates", "realServers"],
                "properties": {
                  "key": {"type": "string", "example": "TCP 192.168.1.109:80"},
                  "protocol": {"type": "string", "enum": ["TCP", "UDP", "SCTP", "FWM"]},
                  "address": {"type": "string"},
                  "port": {"type": "integer", "minimum": 0, "maximum": 65535},
                  "fwmark": {"type": "integer", "minimum": 0},
                  "scheduler": {"type": "string", "example": "rr"},
                  "persistent": {"type": "boolean"},
                  "persistenceTimeout": {"type": "integer", "minimum": 0},
                  "counters": {"$ref": "#/components/schemas/Counters"},
                  "rates": {"$ref": "#/components/schemas/Rates"},
                  "realServers": {"type": "array", "items": {"$ref": "#/components/schemas/RealServer"}}
                }
              },
              "RealServer": {
                "type": "object",
                "required": ["address", "port", "forwarding", "weight", "activeConnections", "inactiveConnections", "persistentConnections", "health", "counters", "rates"],
                "properties": {
                  "address": {"type": "string"},
                  "port": {"type": "integer", "minimum": 0, "maximum": 65535},
                  "forwarding": {"type": "string", "enum": ["Masq", "Local", "Tunnel", "Route", "FullNat"]},
                  "weight": {"type": "integer"},
                  "activeConnections": {"type": "integer", "minimum": 0},
                  "inactiveConnections": {"type": "integer", "minimum": 0},
                  "persistentConnections": {"type": "integer", "minimum": 0},
                  "health": {"type": "string", "enum": ["up", "down", "unchecked"], "description": "From the keepalived.conf health checkers; unchecked when none watches this server."},
                  "counters": {"$ref": "#/components/schemas/Counters"},
                  "rates": {"$ref": "#/components/schemas/Rates"}
                }
              },
              "VRRPState": {"type": "string", "enum": ["INIT", "BACKUP", "MASTER", "FAULT", "STOP"]},
              "VRRPInstances": {
                "type": "object",
                "required": ["instances"],
                "properties": {
                  "instances": {
                    "type": "array",
                    "items": {
                      "type": "object",
                      "required": ["name", "interface", "virtualRouterID", "state", "priority", "configuredPriority", "virtualAddresses"],
                      "properties": {
                        "name": {"type": "string"},
                        "interface": {"type": "string"},
                        "virtualRouterID": {"type": "integer", "minimum": 1, "maximum": 255},
                        "state": {"$ref": "#/components/schemas/VRRPState"},
                        "priority": {"type": "integer", "minimum": 0, "maximum": 255},
                        "configuredPriority": {"type": "integer", "minimum": 0, "maximum": 255},
                        "virtualAddresses": {"type": "array", "items": {"type": "string"}}
                      }
                    }
                  }
                }
              },
              "Checkers": {
                "type": "object",
                "required": ["checkers"],
                "properties": {
                  "checkers": {
                    "type": "array",
                    "items": {
                      "type": "object",
                      "required": ["virtualServer", "protocol", "address", "port", "checker", "up", "realServerAlive", "weight", "lastLatencySeconds"],
                      "properties": {
                        "virtualServer": {"type": "string"},
                        "protocol": {"type": "string"},
                        "address": {"type": "string"},
                        "port": {"type": "integer", "minimum": 0, "maximum": 65535},
                        "checker": {"type": "string", "example": "TCP_CHECK"},
                        "up": {"type": "boolean"},
                        "realServerAlive": {"type": "boolean"},
                        "weight": {"type": "integer"},
                        "lastLatencySeconds": {"type": "number", "nullable": true, "minimum": 0}
                      }
                    }
                  }
                }
              },
              "DataPlane": {
                "type": "object",
                "required": ["running"],
                "properties": {
                  "running": {"type": "boolean"},
                  "mode": {"type": "string", "enum": ["af_packet", "xdp"]},
                  "interfaces": {"type": "array", "items": {"type": "string"}},
                  "workers": {
                    "type": "array",
                    "items": {
                      "type": "object",
                      "required": ["worker", "interface", "packets", "drops"],
                      "properties": {
                        "worker": {"type": "integer", "minimum": 0},
                        "interface": {"type": "string", "description": "The interface the worker serves, or all."},
                        "packets": {"type": "object", "additionalProperties": {"type": "integer", "format": "int64", "minimum": 0}},
                        "drops": {"type": "object", "description": "Non-zero drops by reason.", "additionalProperties": {"type": "integer", "format": "int64", "minimum": 0}}
                      }
                    }
                  }
                }
              },
              "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {"type": "string"}}
              }
            }
          }
        }
        """#
}
