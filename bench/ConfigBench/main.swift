// Times keepalived.conf reading and checking on tutorial-sized and large generated configurations.
import KeepalivedConfig

/// A tutorial-sized configuration (seed 003's, with a vrrp_instance and one virtual server).
let tutorial = """
    global_defs {
       notification_email {
        215379068@qq.com
       }
       notification_email_from yunjisuan
       smtp_server 127.0.0.1
       smtp_connect_timeout 30
       router_id LVS01
    }
    vrrp_instance VI_1 {
        state MASTER
        interface eth0
        virtual_router_id 55
        priority 150
        advert_int 1
        authentication {
            auth_type PASS
            auth_pass 1111
        }
        virtual_ipaddress {
        192.168.0.240/24 dev eth0 label eth0:240
        }
    }
    virtual_server 192.168.0.240 80 {
        delay_loop 6
        lb_algo rr
        lb_kind DR
        protocol TCP
        real_server 192.168.0.223 80 {
            weight 1
            TCP_CHECK {
            connect_timeout 8
            nb_get_retry 3
            delay_before_retry 3
            connect_port 80
        }
        }
        real_server 192.168.0.224 80 {
            weight 1
            TCP_CHECK {
            connect_timeout 8
            nb_get_retry 3
            delay_before_retry 3
            connect_port 80
        }
        }
    }

    """

/// `services` virtual servers with `reals` real servers each, every one with a TCP and an HTTP check.
func large(services: Int, reals: Int) -> String {
    var out = ""
    for s in 0..<services {
        out += "virtual_server 10.\(s / 256).\(s % 256).1 80 {\n  lb_algo wlc\n  lb_kind NAT\n  protocol TCP\n"
        out += "  persistence_timeout 300\n  delay_loop 10\n"
        for r in 0..<reals {
            out += "  real_server 172.16.\(s % 256).\(r + 1) 8080 {\n    weight \(r + 1)\n"
            out += "    TCP_CHECK {\n      connect_timeout 3\n    }\n"
            out +=
                "    HTTP_GET {\n      url {\n        path /health\n        status_code 200-299\n      }\n    }\n  }\n"
        }
        out += "}\n"
    }
    return out
}

/// keepalived.conf(5)'s ~SEQ example: 8 × 32 × 254 = 65024 vrrp instances from one line.
let sequence = """
    $VI4= \\
    vrrp_instance vrrp4.${IF}.${NUM}.${ID} { \\
        interface bond${IF}.${NUM} \\
        virtual_router_id ${ID} \\
        priority 130 \\
        virtual_ipaddress { \\
            10.${IF}.${NUM}.${ID}/24 \\
        } \\
    }

    ~SEQ(IF,0,7) ~SEQ(NUM,0,31) ~SEQ(ID,1,254) $VI4

    """

func measure(_ name: String, _ text: String, iterations: Int) {
    let lines = text.split(separator: "\n").count
    let clock = ContinuousClock()
    var result = KeepalivedConfigLoader.check(text: text)
    let elapsed = clock.measure {
        for _ in 0..<iterations { result = KeepalivedConfigLoader.check(text: text) }
    }
    let perRun = elapsed / iterations
    let seconds = Double(perRun.components.seconds) + Double(perRun.components.attoseconds) / 1e18
    let objects = result.configuration.vrrpInstances.count + result.configuration.virtualServers.count
    print(
        "\(name): \(lines) source lines, \(objects) instances/virtual servers, "
            + "\(milliseconds(seconds * 1e3)) ms per check (\(iterations) runs)")
}

func milliseconds(_ ms: Double) -> String {
    let scaled = (ms * 1000).rounded() / 1000
    return "\(scaled)"
}

measure("tutorial (seed 003)", tutorial, iterations: 2000)
measure("large (200 VS x 20 RS, TCP+HTTP checks)", large(services: 200, reals: 20), iterations: 5)
measure("~SEQ example (65024 vrrp_instances)", sequence, iterations: 1)
