import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { createApiClient, loadConfig } from "./api";
import { App } from "./App";
import "./styles.css";

const root = createRoot(document.getElementById("root")!);

loadConfig().then(
  (config) =>
    root.render(
      <StrictMode>
        <App client={createApiClient({ baseUrl: config.apiBaseUrl })} path={window.location.pathname} />
      </StrictMode>,
    ),
  (error: unknown) =>
    root.render(
      <main className="page">
        <h1>Checkout unavailable</h1>
        <p role="alert">The configuration could not be loaded: {error instanceof Error ? error.message : "error"}</p>
      </main>,
    ),
);
