/**
 * Installs, until restore(), a loader hook that answers tedious's `require("@azure/identity")`
 * with credentials that refuse: see _mssql.ts. Anything else loads as usual.
 */
import Module from "node:module";

type Load = (
  request: string,
  parent: { filename?: string } | undefined,
  isMain: boolean,
) => unknown;
const loader = Module as unknown as { _load: Load };
const original = loader._load;

class AzureAdLogin {
  constructor() {
    throw new Error(
      "Azure AD logins are not offered by the Wonderware source: use a SQL login (user, password)",
    );
  }
}
export const refusing = {
  DefaultAzureCredential: AzureAdLogin,
  ClientSecretCredential: AzureAdLogin,
  ManagedIdentityCredential: AzureAdLogin,
  UsernamePasswordCredential: AzureAdLogin,
};

loader._load = function (request, parent, isMain) {
  if (request === "@azure/identity" && /[\\/]tedious[\\/]/.test(parent?.filename ?? "")) {
    return refusing;
  }
  return original.call(this, request, parent, isMain);
};

export function restore() {
  loader._load = original;
}
