#pragma once
// A tiny HTTP/1.1 server on 127.0.0.1 for client tests: each request gets the reply a script
// function returns (status, body, delay, or hang-up), one thread per connection.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace gtgm::test {

struct FakeRequest {
  std::string method, path, headers, body;
};

struct FakeResponse {
  int status = 200;
  std::string body;
  int delay_ms = 0;      ///< wait before replying (timeouts); cut short when the server stops
  bool hang_up = false;  ///< close without replying
  std::map<std::string, std::string> headers;
  /// Streaming: send `body`, then this many filler bytes ('a'; -1: without end), then `tail`,
  /// without a Content-Length (the body ends when the connection closes). Sending stops as soon
  /// as the client closes the connection; bytes_sent() counts what went out.
  int64_t stream_bytes = 0;
  std::string tail;
};

class FakeHttpServer {
 public:
  using Script = std::function<FakeResponse(int index, const FakeRequest&)>;

  explicit FakeHttpServer(Script script) : script_(std::move(script)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ::listen(fd_, 64);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~FakeHttpServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    acceptor_.join();
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& t : workers_) t.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1/chat/completions"; }
  int count() const { return count_; }
  int max_in_flight() const { return max_in_flight_; }
  /// Body bytes the streaming replies sent before the client hung up (or all of them).
  int64_t bytes_sent() const { return bytes_sent_; }
  std::vector<FakeRequest> requests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }

 private:
  void accept_loop() {
    while (!stop_) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::lock_guard<std::mutex> lock(mutex_);
      workers_.emplace_back([this, c] { serve(c); });
    }
  }

  void serve(int c) {
    const int now = ++in_flight_;
    int prev = max_in_flight_;
    while (now > prev && !max_in_flight_.compare_exchange_weak(prev, now)) {
    }
    std::string data;
    char buf[65536];
    size_t header_end = std::string::npos, need = 0;
    while (true) {
      const ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      data.append(buf, static_cast<size_t>(n));
      if (header_end == std::string::npos && (header_end = data.find("\r\n\r\n")) != std::string::npos) {
        std::string lower = data.substr(0, header_end);
        for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        const auto p = lower.find("content-length:");
        need = p == std::string::npos ? 0 : std::stoul(lower.substr(p + 15));
      }
      if (header_end != std::string::npos && data.size() >= header_end + 4 + need) break;
    }
    FakeRequest req;
    if (header_end != std::string::npos) {
      req.headers = data.substr(0, header_end);
      req.body = data.substr(header_end + 4);
      const auto sp1 = req.headers.find(' '), sp2 = req.headers.find(' ', sp1 + 1);
      req.method = req.headers.substr(0, sp1);
      req.path = req.headers.substr(sp1 + 1, sp2 - sp1 - 1);
    }
    int index;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      index = count_++;
      requests_.push_back(req);
    }
    const FakeResponse r = script_(index, req);
    for (int waited = 0; waited < r.delay_ms && !stop_; waited += 10)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    // A request stops counting as in flight before its reply goes out: once the bytes are sent the
    // client may read them and open its next connection before this thread runs again, so counting
    // until after close() would see limit + 1 requests that never overlapped at the client. The
    // interval counted here (accept .. reply) lies inside the client's own (connect .. reply read), so
    // max_in_flight() can never exceed the client's true concurrency.
    --in_flight_;
    if (!r.hang_up && r.stream_bytes != 0) {
      stream(c, r);
    } else if (!r.hang_up) {
      std::string out = "HTTP/1.1 " + std::to_string(r.status) + " X\r\nContent-Type: application/json\r\n";
      for (const auto& [k, v] : r.headers) out += k + ": " + v + "\r\n";
      out += "Content-Length: " + std::to_string(r.body.size()) + "\r\nConnection: close\r\n\r\n" + r.body;
      ::send(c, out.data(), out.size(), MSG_NOSIGNAL);
    }
    ::shutdown(c, SHUT_RDWR);
    ::close(c);
  }

  // Sends until done, the client closes (send fails) or the server stops.
  void stream(int c, const FakeResponse& r) {
    std::string head = "HTTP/1.1 " + std::to_string(r.status) + " X\r\nContent-Type: application/json\r\n";
    for (const auto& [k, v] : r.headers) head += k + ": " + v + "\r\n";
    head += "Connection: close\r\n\r\n";
    auto send_all = [&](const char* p, size_t n, bool count) {
      while (n > 0 && !stop_) {
        const ssize_t k = ::send(c, p, n, MSG_NOSIGNAL);
        if (k <= 0) return false;
        if (count) bytes_sent_ += k;
        p += k;
        n -= static_cast<size_t>(k);
      }
      return !stop_;
    };
    if (!send_all(head.data(), head.size(), false) || !send_all(r.body.data(), r.body.size(), true)) return;
    const std::string chunk(64 * 1024, 'a');
    for (int64_t left = r.stream_bytes; left != 0;) {
      const size_t n = left < 0 ? chunk.size() : static_cast<size_t>(std::min<int64_t>(left, chunk.size()));
      if (!send_all(chunk.data(), n, true)) return;
      if (left > 0) left -= static_cast<int64_t>(n);
    }
    send_all(r.tail.data(), r.tail.size(), true);
  }

  Script script_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> count_{0}, in_flight_{0}, max_in_flight_{0};
  std::atomic<int64_t> bytes_sent_{0};
  std::thread acceptor_;
  mutable std::mutex mutex_;
  std::vector<std::thread> workers_;
  std::vector<FakeRequest> requests_;
};

/// A chat-completions reply with `text` as the message content.
inline std::string chat_reply(const std::string& text) {
  std::string escaped;
  for (char ch : text) {
    if (ch == '\n') {
      escaped += "\\n";
      continue;
    }
    if (ch == '"' || ch == '\\') escaped.push_back('\\');
    escaped.push_back(ch);
  }
  return "{\"id\":\"x\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
         "\"content\":\"" +
         escaped + "\"},\"finish_reason\":\"stop\"}]}";
}

}  // namespace gtgm::test
