/**
 * npm:mssql as this source loads it. Its driver, tedious, loads @azure/identity (with MSAL and
 * the Azure REST pipeline) at start-up, for Azure AD logins only; this source offers SQL logins,
 * so while tedious loads, that one library is replaced by credentials that refuse with a
 * message saying so. Every process with the plugin saves 9–11 MB of resident memory.
 */
import { restore } from "./_no_azure_identity.ts";
import sql from "mssql";

restore();

export default sql;
